#!/usr/bin/env bash
# Builds the release and runs every benchmark scenario on this machine, each
# starting the real server itself on loopback with a fresh database: the
# default run (the machine's ceilings, creates, creates at a fixed rate,
# decisions, decision -> wait) on SQLite and on a throwaway PostgreSQL, then
# webhooks (on both), the live inbox, 10,000 parked waits, and the Stats
# page at a million approvals. The default runs' figures are also written to
# bench/results/<date>-<backend>.json.
# bench/README.md says what each figure means.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "Building the release (the server and the harness)"
cargo build --release --features testkit --bin holdpoint --bin holdpoint-bench
bench=target/release/holdpoint-bench

step "Default run, SQLite"
"$bench" --clients 64 --seconds 10 --results bench/results

step "Default run, PostgreSQL (durable settings)"
HOLDPOINT_PG_DURABLE=1 scripts/with-postgres.sh \
  "$bench" --clients 64 --seconds 10 --backend postgres --results bench/results

step "Webhooks"
"$bench" --webhooks --decisions 200 --burst 2000

step "Webhooks, PostgreSQL (durable settings)"
HOLDPOINT_PG_DURABLE=1 scripts/with-postgres.sh \
  "$bench" --webhooks --decisions 200 --burst 2000 --backend postgres

step "Live inbox: created -> received by 1, 100 and 1,000 sockets"
"$bench" --live --rounds 20

step "10,000 waits parked at once, then decided in a burst"
"$bench" --parked

step "The Stats page and the inbox at a million approvals"
"$bench" --stats
