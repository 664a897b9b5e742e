#!/usr/bin/env bash
# Installs Azurite (npm `azurite`, Microsoft's Azure Storage emulator) into a private
# prefix, once, and prints the path of its `azurite-blob` launcher. The Azure download
# tests of livecov-collect start it on 127.0.0.1 (they find it through
# LIVECOV_AZURITE_BIN, PATH, or this prefix).
#
# Idempotent: a second run only checks that the installed launcher starts. Override the
# cache directory with LIVECOV_CI_TOOLS. Output of npm goes to stderr, so that
#   export LIVECOV_AZURITE_BIN="$(bash .ci/install-azurite.sh)"
# works.
set -euo pipefail
version="3.37.0"
tools="${LIVECOV_CI_TOOLS:-/var/tmp/livecov-ci-tools}"
prefix="$tools/azurite"
launcher="$prefix/node_modules/.bin/azurite-blob"

if ! "$launcher" --help >/dev/null 2>&1; then
	mkdir -p "$prefix"
	echo "install-azurite.sh: npm install azurite@$version into $prefix" >&2
	npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error "azurite@$version" >&2
fi
"$launcher" --help >/dev/null 2>&1 || {
	echo "install-azurite.sh: $launcher does not run after npm install" >&2
	exit 1
}
echo "$launcher"
