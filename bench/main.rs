//! The load and latency harness. Starts a real `holdpoint` (release build by
//! default) on a fresh database and measures, over loopback:
//!   0. the machine's ceilings with the same load (bench/ceilings.rs): a bare
//!      axum JSON handler, and axum doing one sqlx SQLite insert per request;
//!   1. creates per second with N concurrent agents, with p50/p99 latency,
//!      and as a ratio of each ceiling;
//!   2. decisions per second with N concurrent approvers (on the approvals
//!      just created), with p50/p99 latency;
//!   3. decision -> /wait return latency, p50/p99.
//!
//! With `--webhooks`, webhook delivery latency and throughput instead
//! (bench/webhooks.rs); with `--live`, how fast a new approval reaches 1,
//! 100 and 1,000 open inboxes, and the server's memory with them
//! (bench/live.rs; `--rounds` approvals per client count); with
//! `--large-inbox`, a full inbox of the largest requests: first-snapshot
//! time and memory with 10 inboxes open (bench/large_inbox.rs); with
//! `--search`, history search at `--rows` decided approvals
//! (bench/search.rs); with `--parked`, `--waits` agents (10,000) parked on
//! `/wait` at once: the server's memory, and their wake-up when all are
//! decided in a burst (bench/parked.rs); with `--hostile-conditions`, what
//! the hostile policy conditions cost a create, and whether the sign-in
//! page keeps answering meanwhile (bench/hostile.rs).
//!
//!   cargo build --release --features ssr --bin holdpoint --bin holdpoint-bench
//!   target/release/holdpoint-bench [--clients 32] [--seconds 10] [--decisions 200]
//!       [--backend sqlite|postgres] [--instances N]
//!
//! `--backend postgres` creates its database on the server named by
//! HOLDPOINT_TEST_DATABASE_URL (scripts/with-postgres.sh starts one).
//! `--instances 2` (PostgreSQL only) runs two servers on that database: the
//! agents spread their creates over both, and every wait is parked on the
//! first while the decision goes through the last, so the wake-up crosses
//! instances. HOLDPOINT_BIN picks another server binary.

mod ceilings;
mod hostile;
mod large_inbox;
mod live;
mod load;
mod parked;
mod search;
mod stats;
mod webhooks;

use holdpoint::testkit::{self, Backend, Server};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The benchmark measures the machine, not the per-caller limits (creates
/// per key, parked waits per key, inboxes per person): they are lifted.
pub const NO_LIMITS: &[(&str, &str)] = &[
    ("HOLDPOINT_CREATE_RATE", "1000000/s"),
    ("HOLDPOINT_CREATE_BURST", "1000000"),
    ("HOLDPOINT_MAX_WAITS_PER_KEY", "1000000"),
    ("HOLDPOINT_MAX_INBOXES_PER_PERSON", "1000000"),
];

pub struct Options {
    clients: usize,
    seconds: u64,
    decisions: usize,
    backend: Backend,
    instances: usize,
    /// Measure webhook delivery instead (bench/webhooks.rs).
    webhooks: bool,
    /// Approvals per delivery burst in the webhook figures.
    burst: usize,
    /// Creates per second in the fixed-rate latency figure.
    rate: usize,
    /// Where the default run also writes its figures as JSON
    /// (`<date>-<backend>.json`).
    results: Option<std::path::PathBuf>,
    /// Measure live inbox fan-out instead (bench/live.rs).
    live: bool,
    /// Approvals created per client count in the live figures.
    rounds: usize,
    /// Measure a full inbox of large requests instead (bench/large_inbox.rs).
    large_inbox: bool,
    /// Measure history search at many decided approvals (bench/search.rs).
    search: bool,
    /// Decided approvals in the search figures; approvals in the stats ones.
    rows: usize,
    /// Measure the Stats page and the inbox at many approvals (bench/stats.rs).
    stats: bool,
    /// Measure many waits parked at once, and their wake-up (bench/parked.rs).
    parked: bool,
    /// How many waits `--parked` parks.
    waits: usize,
    /// Measure the hostile policy conditions' cost per create (bench/hostile.rs).
    hostile: bool,
    /// Only write a seeded history into this database, print the figures it
    /// must show, and exit.
    seed_only: Option<String>,
}

fn parse_options() -> Options {
    let mut options = Options {
        clients: 32,
        seconds: 10,
        decisions: 200,
        backend: Backend::Sqlite,
        instances: 1,
        webhooks: false,
        burst: 4000,
        rate: 1000,
        results: None,
        live: false,
        rounds: 50,
        large_inbox: false,
        search: false,
        rows: 1_000_000,
        stats: false,
        parked: false,
        waits: 10_000,
        hostile: false,
        seed_only: None,
    };
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    for (flag, set) in [
        ("--webhooks", &mut options.webhooks),
        ("--live", &mut options.live),
        ("--large-inbox", &mut options.large_inbox),
        ("--search", &mut options.search),
        ("--stats", &mut options.stats),
        ("--parked", &mut options.parked),
        ("--hostile-conditions", &mut options.hostile),
    ] {
        if let Some(at) = args.iter().position(|a| a == flag) {
            args.remove(at);
            *set = true;
        }
    }
    for pair in args.chunks(2) {
        let raw = pair.get(1).map(String::as_str);
        let value = raw.and_then(|v| v.parse().ok());
        match (pair[0].as_str(), value, raw) {
            ("--clients", Some(v), _) => options.clients = v,
            ("--seconds", Some(v), _) => options.seconds = v as u64,
            ("--decisions", Some(v), _) => options.decisions = v,
            ("--instances", Some(v), _) if v >= 1 => options.instances = v,
            ("--burst", Some(v), _) => options.burst = v,
            ("--rate", Some(v), _) if v >= 1 => options.rate = v,
            ("--rounds", Some(v), _) if v >= 1 => options.rounds = v,
            ("--rows", Some(v), _) if v >= 1 => options.rows = v,
            ("--waits", Some(v), _) if v >= 1 => options.waits = v,
            ("--backend", _, Some("sqlite")) => options.backend = Backend::Sqlite,
            ("--backend", _, Some("postgres")) => options.backend = Backend::Postgres,
            ("--seed-only", _, Some(url)) => options.seed_only = Some(url.to_owned()),
            ("--results", _, Some(dir)) => options.results = Some(dir.into()),
            _ => {
                eprintln!(
                    "usage: holdpoint-bench [--clients N] [--seconds S] [--decisions D] [--rate R] [--results DIR] \
                     [--backend sqlite|postgres] [--instances N] [--webhooks [--burst N]] \
                     [--live [--rounds N]] [--large-inbox] [--search [--rows N]] [--stats [--rows N]] \
                     [--parked [--waits N]] [--hostile-conditions] [--seed-only DATABASE_URL --rows N]"
                );
                std::process::exit(2);
            }
        }
    }
    options
}

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// The server process's resident memory, from /proc.
pub fn rss(server: &Server) -> String {
    let Some(pid) = server.pid() else {
        return "unknown (server exited)".to_owned();
    };
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmRSS:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kib| kib.parse::<f64>().ok())
        })
        .map_or_else(
            || "unknown".to_owned(),
            |kib| format!("{:.1} MiB", kib / 1024.0),
        )
}

pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() {
    let options = parse_options();
    if let Some(database_url) = &options.seed_only {
        let backend = if database_url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            Backend::Postgres
        };
        stats::seed(database_url, backend, options.rows as i64).await;
        println!("{}", stats::expected(options.rows as i64));
        return;
    }
    let bin = testkit::binary_path();
    let dir = std::env::temp_dir().join(format!("holdpoint-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("bench directory");
    let database = testkit::fresh_database(options.backend, &dir).await;
    let database_url = database.url.clone();
    let (email, password) = ("bench@example.com", "bench password");
    testkit::create_user(&bin, &database_url, email, password, true).await;
    let key = testkit::create_key(
        &bin,
        &database_url,
        &format!("bench-{}", std::process::id()),
        None,
    )
    .await;
    let other_scenario = options.webhooks
        || options.live
        || options.large_inbox
        || options.search
        || options.stats
        || options.parked
        || options.hostile;
    if other_scenario {
        if options.hostile {
            hostile::run(&bin, &database_url, &key).await;
        } else if options.stats {
            stats::run(&options, &bin, &database_url, email, password).await;
        } else if options.webhooks {
            webhooks::run(&options, &bin, &database_url, email, password).await;
        } else if options.parked {
            parked::run(options.waits, &bin, &database_url, email, password, &key).await;
        } else if options.live {
            live::run(&options, &bin, &database_url, email, password, &key).await;
        } else if options.large_inbox {
            large_inbox::run(&bin, &database_url, email, password, &key).await;
        } else {
            search::run(&options, &bin, &database_url, email, password).await;
        }
        drop(database);
        let _ = std::fs::remove_dir_all(&dir);
        return;
    }
    if options.instances > 1 && options.backend != Backend::Postgres {
        eprintln!("--instances above 1 needs --backend postgres: SQLite serves one instance");
        std::process::exit(2);
    }
    let mut servers = Vec::new();
    for _ in 0..options.instances {
        servers.push(Arc::new(
            Server::start(&bin, &database_url, NO_LIMITS).await,
        ));
    }
    println!(
        "{} server(s): {} on {database_url}",
        servers.len(),
        bin.display()
    );

    // 0. The machine's ceilings, with the same agents' load.
    let (bare, one_insert) = ceilings::run(&dir, options.clients, options.seconds).await;
    for (what, load) in [
        ("bare axum JSON handler", &bare),
        (
            "axum + one sqlx SQLite insert per request (WAL, synchronous=FULL)",
            &one_insert,
        ),
    ] {
        println!(
            "ceiling, {what}: {:.0}/s with {} clients; latency p50 {} p99 {}",
            load.per_second(),
            options.clients,
            ms(percentile(&load.latencies, 50.0)),
            ms(percentile(&load.latencies, 99.0)),
        );
    }

    // 1. Sustained creates.
    let client = testkit::client();
    let endpoints: Vec<String> = servers
        .iter()
        .map(|server| server.url("/api/v1/approvals"))
        .collect();
    let creates = load::create_load(&endpoints, &key, options.clients, options.seconds).await;
    let latencies = &creates.latencies;
    println!(
        "creates: {} in {:.1} s with {} clients = {:.0}/s ({:.2}x the one-insert ceiling, \
         {:.2}x bare axum); latency p50 {} p99 {}",
        latencies.len(),
        creates.elapsed.as_secs_f64(),
        options.clients,
        creates.per_second(),
        creates.per_second() / one_insert.per_second(),
        creates.per_second() / bare.per_second(),
        ms(percentile(latencies, 50.0)),
        ms(percentile(latencies, 99.0)),
    );
    let (creates_rate, creates_latencies) = (creates.per_second(), creates.latencies);
    let mut pending = creates.ids;

    // 1b. Creates at a fixed rate: the latency an agent sees at that pace.
    let paced =
        load::fixed_rate_load(&endpoints[0], &key, options.rate as u64, options.seconds).await;
    println!(
        "creates at a fixed {}/s for {} s: {} answered at {:.0}/s; latency p50 {} p99 {}",
        options.rate,
        options.seconds,
        paced.latencies.len(),
        paced.per_second(),
        ms(percentile(&paced.latencies, 50.0)),
        ms(percentile(&paced.latencies, 99.0)),
    );
    pending.extend(paced.ids.iter().cloned());

    // 2. Sustained decisions, on the approvals just created.
    let (waits_on, decides_on) = (&servers[0], &servers[servers.len() - 1]);
    let cookie = testkit::login(&client, decides_on, email, password).await;
    let pending = Arc::new(std::sync::Mutex::new(pending));
    let deadline = Instant::now() + Duration::from_secs(options.seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..options.clients {
        let server = servers[worker % servers.len()].clone();
        let (client, cookie, pending) = (client.clone(), cookie.clone(), pending.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let Some(id) = pending.lock().expect("ids").pop() else {
                    break;
                };
                let t0 = Instant::now();
                let response =
                    testkit::decide(&client, &server, &cookie, &id, "approve", None).await;
                assert!(
                    response.status().is_success(),
                    "decide failed: {}",
                    response.status()
                );
                response.bytes().await.expect("body");
                latencies.push(t0.elapsed());
            }
            latencies
        }));
    }
    let mut decided = Vec::new();
    for task in tasks {
        decided.extend(task.await.expect("decider"));
    }
    let elapsed = started.elapsed();
    decided.sort();
    println!(
        "decisions: {} in {:.1} s with {} clients = {:.0}/s; latency p50 {} p99 {}",
        decided.len(),
        elapsed.as_secs_f64(),
        options.clients,
        decided.len() as f64 / elapsed.as_secs_f64(),
        ms(percentile(&decided, 50.0)),
        ms(percentile(&decided, 99.0)),
    );

    // 3. Decision -> wait return.
    let mut wake = Vec::new();
    for n in 0..options.decisions {
        let response = testkit::create_approval(
            &client,
            waits_on,
            &key,
            &testkit::sample_request(&format!("Wait {n}")),
        )
        .await;
        let approval: serde_json::Value = response.json().await.expect("approval");
        let id = approval["id"].as_str().expect("id").to_owned();
        let waiter = testkit::spawn_wait(&client, waits_on, &key, &id, 30);
        // Give the long-poll time to be parked on the server.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let decided_at = Instant::now();
        let response = testkit::decide(&client, decides_on, &cookie, &id, "approve", None).await;
        assert!(
            response.status().is_success(),
            "decide failed: {}",
            response.status()
        );
        let answer = waiter.await.expect("waiter");
        assert_eq!(answer.approval["status"], "approved");
        wake.push(answer.at.saturating_duration_since(decided_at));
    }
    wake.sort();
    println!(
        "decision -> wait return ({} decisions): p50 {} p99 {} (from sending the decision)",
        wake.len(),
        ms(percentile(&wake, 50.0)),
        ms(percentile(&wake, 99.0)),
    );
    if let Some(results) = &options.results {
        let figures = |latencies: &[Duration], rate: Option<f64>| {
            serde_json::json!({
                "per_second": rate.map(|r| r.round()),
                "p50_ms": percentile(latencies, 50.0).as_secs_f64() * 1000.0,
                "p99_ms": percentile(latencies, 99.0).as_secs_f64() * 1000.0,
            })
        };
        let decided_rate = decided.len() as f64 / elapsed.as_secs_f64();
        let report = serde_json::json!({
            "date": chrono::Utc::now().to_rfc3339(),
            "backend": format!("{:?}", options.backend).to_lowercase(),
            "instances": options.instances,
            "clients": options.clients,
            "seconds": options.seconds,
            "ceiling_bare_axum": figures(&bare.latencies, Some(bare.per_second())),
            "ceiling_one_insert": figures(&one_insert.latencies, Some(one_insert.per_second())),
            "creates": figures(&creates_latencies, Some(creates_rate)),
            "creates_vs_one_insert": creates_rate / one_insert.per_second(),
            "creates_vs_bare_axum": creates_rate / bare.per_second(),
            "creates_at_fixed_rate": {
                "rate": options.rate,
                "latency": figures(&paced.latencies, Some(paced.per_second())),
            },
            "decisions": figures(&decided, Some(decided_rate)),
            "decision_to_wait": figures(&wake, None),
        });
        std::fs::create_dir_all(results).expect("results folder");
        let file = results.join(format!(
            "{}-{}.json",
            chrono::Utc::now().format("%Y-%m-%d"),
            report["backend"].as_str().unwrap_or("sqlite")
        ));
        std::fs::write(&file, serde_json::to_string_pretty(&report).expect("JSON"))
            .expect("write results");
        println!("figures written to {}", file.display());
    }
    drop(servers);
    drop(database);
    let _ = std::fs::remove_dir_all(&dir);
}
