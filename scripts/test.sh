#!/usr/bin/env bash
# Sets everything up and runs every test: formatting and lints, the Rust unit
# and integration tests (real server processes on a real SQLite file and on a
# throwaway PostgreSQL cluster, or HOLDPOINT_TEST_DATABASE_URL when set),
# schemathesis against the OpenAPI document, and the Playwright browser tests
# in Debian's Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test

export PATH="$PWD/end2end/node_modules/.bin:$PATH"
# cargo-leptos builds debug with this flag; giving cargo test and clippy the
# same one lets them reuse its compiled dependencies instead of building twice.
export RUSTFLAGS="--cfg erase_components"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "Formatting, and imports that run one way"
cargo fmt --all -- --check
python3 scripts/check-imports.py

step "Building the server and the WASM inbox"
cargo leptos build --split

step "Lints (server and browser builds)"
cargo clippy --features testkit --all-targets -- -D warnings
cargo clippy --lib --features hydrate --target wasm32-unknown-unknown -- -D warnings

step "Rust unit and integration tests (every integration test on SQLite and on PostgreSQL)"
scripts/with-postgres.sh cargo test --features testkit

step "The API against its OpenAPI document (schemathesis)"
scripts/check-api-contract.sh

step "Browser tests"
(cd end2end && npx playwright test)

step "Release build (what scripts/run.sh serves)"
# The server's view types are spelled out in full here (the WASM's are
# erased, see .cargo/config.toml): this is where a too-deep view or a
# wasm-opt problem would show.
env -u RUSTFLAGS cargo leptos build --release --split --precompress
