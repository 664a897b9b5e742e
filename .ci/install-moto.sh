#!/usr/bin/env bash
# Installs moto's S3-compatible server (PyPI `moto[server]`) into a private venv, once,
# and prints the path of its `moto_server`. The S3 download tests of livecov-collect
# start it on 127.0.0.1 (they find it through LIVECOV_MOTO_SERVER, PATH, or this venv).
#
# Idempotent: a second run only checks that the installed server starts. Override the
# venv with LIVECOV_CI_VENV. Output of pip goes to stderr, so that
#   export LIVECOV_MOTO_SERVER="$(bash .ci/install-moto.sh)"
# works.
set -euo pipefail
venv="${LIVECOV_CI_VENV:-/var/tmp/livecov-ci-venv}"
server="$venv/bin/moto_server"

if ! "$server" --help >/dev/null 2>&1; then
	[ -x "$venv/bin/python3" ] || python3 -m venv "$venv" >&2
	"$venv/bin/pip" install -q --disable-pip-version-check 'moto[server]>=5,<6' >&2
fi
"$server" --help >/dev/null 2>&1 || {
	echo "install-moto.sh: $server does not run after installing moto[server]" >&2
	exit 1
}
echo "$server"
