#!/usr/bin/env bash
# Runs a command with HOLDPOINT_TEST_DATABASE_URL pointing at a PostgreSQL
# server. When the variable is already set, that server is used as it is.
# Otherwise a throwaway cluster is created (initdb in a fresh temporary
# directory, owned by the postgres user when we are root), started on a free
# loopback port, and stopped and deleted when the command ends.
#
#   scripts/with-postgres.sh cargo test --features testkit
#
# HOLDPOINT_PG_OPTIONS adds server settings, e.g. "-c synchronous_commit=off".
# The test cluster turns fsync off (it is thrown away); set
# HOLDPOINT_PG_DURABLE=1 to keep PostgreSQL's durable defaults (benchmarks).
set -euo pipefail

if [[ -n "${HOLDPOINT_TEST_DATABASE_URL:-}" ]]; then
  exec "$@"
fi

bin_dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [[ -z "$bin_dir" || ! -x "$bin_dir/initdb" ]]; then
  cat >&2 <<'MSG'
with-postgres: PostgreSQL is not installed. Either run scripts/setup.sh --test
(it installs Debian's postgresql package), or point the tests at a server you
have: HOLDPOINT_TEST_DATABASE_URL=postgres://USER:PASSWORD@HOST:PORT/DATABASE
(the user needs the CREATEDB privilege; every test creates its own database).
MSG
  exit 1
fi

cluster=$(mktemp -d "${TMPDIR:-/tmp}/holdpoint-pg.XXXXXX")
as_owner() { "$@"; }
if [[ $(id -u) -eq 0 ]]; then
  # PostgreSQL refuses to run as root.
  chown postgres: "$cluster"
  as_owner() { runuser -u postgres -- "$@"; }
fi

stop_cluster() {
  as_owner "$bin_dir/pg_ctl" -D "$cluster/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$cluster"
}
trap stop_cluster EXIT

port_is_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port=$((20000 + RANDOM % 20000))
until port_is_free "$port"; do port=$((20000 + RANDOM % 20000)); done

as_owner "$bin_dir/initdb" -D "$cluster/data" --username=postgres --auth=trust \
  --encoding=UTF8 --locale=C >"$cluster/initdb.log" 2>&1 ||
  { cat "$cluster/initdb.log" >&2; exit 1; }

options="-p $port -k $cluster -c listen_addresses=127.0.0.1 -c max_connections=300"
if [[ -z "${HOLDPOINT_PG_DURABLE:-}" ]]; then
  options+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
fi
options+=" ${HOLDPOINT_PG_OPTIONS:-}"
if ! as_owner "$bin_dir/pg_ctl" -D "$cluster/data" -l "$cluster/server.log" -o "$options" \
  -w start >/dev/null; then
  cat "$cluster/server.log" >&2
  exit 1
fi

export HOLDPOINT_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
echo "with-postgres: throwaway PostgreSQL $(basename "$(dirname "$bin_dir")") at $HOLDPOINT_TEST_DATABASE_URL" >&2
"$@"
