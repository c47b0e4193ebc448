#!/usr/bin/env bash
# Sets everything up and runs every test: formatting and lints, the Rust unit
# and integration tests (real server processes on a real SQLite file and on a
# throwaway PostgreSQL cluster, or HOLDPOINT_TEST_DATABASE_URL when set),
# the OpenAPI document's validity and schemathesis against it, and the
# Playwright browser tests in Debian's Chromium against the release build
# that scripts/run.sh serves.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test

export PATH="$PWD/end2end/node_modules/.bin:$PATH"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "Formatting, and imports that run one way"
cargo fmt --all -- --check
python3 scripts/check-imports.py
# Every browser test takes `test` from the fixture that fails it on a page
# error (end2end/tests/fixtures.ts), never Playwright's own.
if grep -lE 'import \{[^}]*\btest\b[^}]*\} from "@playwright/test"' end2end/tests/*.ts | grep -v fixtures.ts; then
  echo "these specs import test from @playwright/test: import it from ./fixtures" >&2
  exit 1
fi

step "Release build (what scripts/run.sh serves, and what the browser tests run)"
cargo leptos build --release --split --precompress

step "Lints (server and browser builds)"
cargo clippy --features testkit --all-targets -- -D warnings
cargo clippy --lib --features hydrate --target wasm32-unknown-unknown -- -D warnings

step "Rust unit and integration tests (every integration test on SQLite and on PostgreSQL)"
scripts/with-postgres.sh cargo test --features testkit

step "The OpenAPI document (validator, generated client) and the API against it (schemathesis)"
HOLDPOINT_BIN=target/release/holdpoint scripts/check-api-contract.sh

step "Browser tests (the release build)"
(cd end2end && npx playwright test)
