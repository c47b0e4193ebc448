#!/usr/bin/env bash
# Sets everything up, builds the release and runs Holdpoint on
# http://127.0.0.1:3000 (configure with HOLDPOINT_* variables; see README).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# wasm-opt from the npm package binaryen, found first on PATH.
export PATH="$PWD/end2end/node_modules/.bin:$PATH"
cargo leptos build --release --split --precompress
exec target/release/holdpoint serve "$@"
