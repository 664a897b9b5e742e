#!/usr/bin/env bash
# Installs Debian's PostgreSQL 15 server binaries, once, for the PostgreSQL store tests
# (crates/livecov-store/tests/conformance.rs, crates/livecov/tests/store_postgres.rs start
# their own server on 127.0.0.1 with them; no cluster of the package is used) and prints
# their directory. Idempotent; apt's output goes to stderr.
set -euo pipefail
bin="${LIVECOV_PG_BIN:-/usr/lib/postgresql/15/bin}"
if [ -x "$bin/postgres" ] && [ -x "$bin/initdb" ] && [ -x "$bin/pg_ctl" ] && [ -x "$bin/psql" ]; then
	echo "$bin"
	exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
if ! command -v apt-get >/dev/null 2>&1; then
	echo "install-postgres.sh: install PostgreSQL 15 and set LIVECOV_PG_BIN to its bin directory" >&2
	exit 1
fi
$sudo apt-get update -q >&2
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends \
	postgresql-15 >&2
# The package starts a cluster of its own; the tests do not use it.
if command -v pg_ctlcluster >/dev/null 2>&1; then
	$sudo pg_ctlcluster 15 main stop >&2 2>/dev/null || true
fi
[ -x "$bin/postgres" ] || { echo "install-postgres.sh: no $bin/postgres after installing" >&2; exit 1; }
echo "$bin"
