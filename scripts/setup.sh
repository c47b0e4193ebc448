#!/usr/bin/env bash
# Installs what Holdpoint needs to build (and, with --test, to test) on a
# Debian 12 machine that reaches only package registries. Idempotent: every
# step is skipped when its tool is already there at the right version.
# Versions are pinned: cargo-leptos is installed with --locked, and
# wasm-bindgen-cli must equal the wasm-bindgen crate in Cargo.lock.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_LEPTOS_VERSION=0.3.10
# Must equal the wasm-bindgen crate version pinned in Cargo.toml.
WASM_BINDGEN_VERSION=0.2.130
with_test_tools=false
[[ "${1:-}" == "--test" ]] && with_test_tools=true

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

apt_packages=()
command -v cc >/dev/null || apt_packages+=(build-essential)
command -v node >/dev/null || apt_packages+=(nodejs npm)
if $with_test_tools; then
  [[ -x /usr/bin/chromium ]] || apt_packages+=(chromium)
  # The integration suite also runs on PostgreSQL, in a throwaway cluster
  # (scripts/with-postgres.sh), unless HOLDPOINT_TEST_DATABASE_URL names one.
  # The Python test tools go into a virtual environment (Debian's python3
  # needs python3-venv for that; a pyenv or python.org build has it).
  command -v python3 >/dev/null || apt_packages+=(python3)
  if command -v python3 >/dev/null && ! python3 -c "import ensurepip, venv" 2>/dev/null; then
    apt_packages+=(python3-venv)
  fi
  if [[ -z "${HOLDPOINT_TEST_DATABASE_URL:-}" ]] && ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
    apt_packages+=(postgresql)
  fi
fi
if ((${#apt_packages[@]})); then
  say "Installing Debian packages: ${apt_packages[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_packages[@]}"
fi

if ! command -v cargo >/dev/null; then
  echo "cargo is missing: install Rust with rustup first" >&2
  exit 1
fi
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "Adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi
if ! cargo leptos --version 2>/dev/null | grep -q " ${CARGO_LEPTOS_VERSION}\$"; then
  say "Installing cargo-leptos ${CARGO_LEPTOS_VERSION} (about 10 minutes, once per machine)"
  cargo install "cargo-leptos@${CARGO_LEPTOS_VERSION}" --locked
fi
if ! wasm-bindgen --version 2>/dev/null | grep -q " ${WASM_BINDGEN_VERSION}\$"; then
  say "Installing wasm-bindgen-cli ${WASM_BINDGEN_VERSION}"
  # Not --locked: its lock file names a crate version the registry lacks.
  cargo install wasm-bindgen-cli --version "${WASM_BINDGEN_VERSION}" --force
fi

# Node packages: Playwright for the browser tests and binaryen's wasm-opt for
# release builds (Debian's binaryen makes a WASM that never hydrates).
if [[ ! -d end2end/node_modules ]] || [[ end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]]; then
  say "Installing end2end's node packages"
  (cd end2end && npm ci --no-audit --no-fund --loglevel=error)
fi

# Python tools of the test command (schemathesis, the MCP SDK, Standard
# Webhooks), pinned, in a virtual environment of the project's own.
if $with_test_tools; then
  requirements=tests/contract/requirements.txt
  if [[ ! -x .venv/bin/python ]] || [[ $requirements -nt .venv/installed ]]; then
    say "Installing the Python test tools into .venv"
    python3 -m venv .venv
    .venv/bin/pip install --quiet --disable-pip-version-check -r "$requirements"
    cp "$requirements" .venv/installed
  fi
fi
