//! The benchmark harness, run tiny (a second of load, a few decisions) so
//! that it cannot rot between the runs that measure: every scenario of the
//! default run prints its line, ceilings included. Nothing is timed here.

use holdpoint::testkit::{self, Backend};

async fn the_harness_runs_every_default_scenario(backend: Backend) {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_holdpoint-bench"));
    command
        .args([
            "--clients",
            "2",
            "--seconds",
            "1",
            "--decisions",
            "5",
            "--rate",
            "20",
        ])
        .env("HOLDPOINT_BIN", testkit::binary_path());
    if backend == Backend::Postgres {
        command.args(["--backend", "postgres"]);
    }
    let output = command.output().await.expect("run holdpoint-bench");
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{printed}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for line in [
        "ceiling, bare axum JSON handler: ",
        "ceiling, axum + one sqlx SQLite insert per request",
        "creates: ",
        "x the one-insert ceiling",
        "creates at a fixed 20/s for 1 s: 20 answered",
        "decisions: ",
        "decision -> wait return (5 decisions): ",
    ] {
        assert!(printed.contains(line), "no {line:?} in:\n{printed}");
    }
}

on_both_backends!(the_harness_runs_every_default_scenario);
