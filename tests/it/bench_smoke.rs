//! The benchmark harness, run tiny (a second of load, a few decisions, a
//! few parked waits) so that it cannot rot between the runs that measure:
//! every scenario prints its lines, ceilings included. Nothing is timed
//! here.

use holdpoint::testkit::{self, Backend};

/// Runs `holdpoint-bench` with `args` on `backend`; what it printed.
async fn bench(backend: Backend, args: &[&str]) -> String {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_holdpoint-bench"));
    command
        .args(args)
        .env("HOLDPOINT_BIN", testkit::binary_path());
    if backend == Backend::Postgres {
        command.args(["--backend", "postgres"]);
    }
    let output = command.output().await.expect("run holdpoint-bench");
    let printed = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{printed}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    printed
}

fn assert_printed(printed: &str, lines: &[&str]) {
    for line in lines {
        assert!(printed.contains(line), "no {line:?} in:\n{printed}");
    }
}

async fn the_harness_runs_every_default_scenario(backend: Backend) {
    let args = [
        "--clients",
        "2",
        "--seconds",
        "1",
        "--decisions",
        "5",
        "--rate",
        "20",
    ];
    let printed = bench(backend, &args).await;
    assert_printed(
        &printed,
        &[
            "ceiling, bare axum JSON handler: ",
            "ceiling, axum + one sqlx SQLite insert per request",
            "creates: ",
            "x the one-insert ceiling",
            "creates at a fixed 20/s for 1 s: 20 answered",
            "decisions: ",
            "decision -> wait return (5 decisions): ",
        ],
    );
}

async fn the_parked_waits_scenario_runs(backend: Backend) {
    // Two batches, the second short.
    let printed = bench(backend, &["--parked", "--waits", "150"]).await;
    assert_printed(
        &printed,
        &[
            "with 150 waits parked",
            "burst: 150 decided in batches of 100",
            "each wait from its batch's answer",
            "server memory after the burst: ",
        ],
    );
}

on_both_backends!(
    the_harness_runs_every_default_scenario,
    the_parked_waits_scenario_runs
);
