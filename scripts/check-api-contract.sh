#!/usr/bin/env bash
# Checks a running Holdpoint against its own OpenAPI document with
# schemathesis (examples, coverage, fuzzing and stateful phases): no 500s,
# every answer's status, headers and body as documented, every problem's
# code among those documented for that endpoint and status.
#
# Starts the server built by `cargo leptos build` (or HOLDPOINT_BIN) on a
# fresh SQLite file in a temporary folder, with an API key allowed to read
# decisions. SCHEMATHESIS_SEED picks another seed; SCHEMATHESIS_MAX_TIME the
# budget in seconds (default 60).
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${HOLDPOINT_BIN:-target/debug/holdpoint}
work=$(mktemp -d)
server=
cleanup() {
  [[ -n $server ]] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

export HOLDPOINT_DATABASE_URL="sqlite://$work/holdpoint.db"
export HOLDPOINT_DATA_DIR="$work"
# Generated requests come fast; the default per-key rate would answer most
# creates with 429 and leave the other answers untested.
export HOLDPOINT_CREATE_RATE=10000/s HOLDPOINT_CREATE_BURST=10000
key=$("$bin" admin create-key --name schemathesis 2>/dev/null)
"$bin" admin allow-decisions --name schemathesis >/dev/null

"$bin" serve --addr 127.0.0.1:0 >"$work/server.log" 2>&1 &
server=$!
url=
for _ in $(seq 100); do
  url=$(sed -n 's/^holdpoint listening on //p' "$work/server.log")
  [[ -n $url ]] && break
  sleep 0.1
done
if [[ -z $url ]]; then
  cat "$work/server.log" >&2
  echo "the server did not start" >&2
  exit 1
fi

.venv/bin/schemathesis --config-file tests/contract/schemathesis.toml run \
  "$url/api/v1/openapi.json" \
  --header "Authorization: Bearer $key" \
  --workers 2 \
  --max-time "${SCHEMATHESIS_MAX_TIME:-60}" \
  --seed "${SCHEMATHESIS_SEED:-20261130}" \
  --request-timeout 10 \
  --report-dir "$work/report" \
  --warnings off
