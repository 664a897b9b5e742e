#!/usr/bin/env bash
# Installs Debian's docker-registry (CNCF distribution 2.x), once, and prints the path of
# its binary. livecov-collect's registry tests start their own instances of it on
# 127.0.0.1 with a temporary config (they find it through LIVECOV_REGISTRY_BIN, else
# /usr/bin/docker-registry).
#
# The package ships a service on :5000 (systemd unit and init script). The tests never
# use it, so this script keeps it from starting during the install and leaves it stopped
# and disabled. Idempotent: a second run installs nothing and only re-checks that.
# apt's output goes to stderr, so that
#   export LIVECOV_REGISTRY_BIN="$(bash .ci/install-registry.sh)"
# works.
set -euo pipefail
bin="${LIVECOV_REGISTRY_BIN:-/usr/bin/docker-registry}"
service=docker-registry

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

if [ ! -x "$bin" ]; then
	if [ "$bin" != /usr/bin/docker-registry ] || ! command -v apt-get >/dev/null 2>&1; then
		echo "install-registry.sh: $bin is missing; install the distribution 2.x registry" \
			"(Debian package docker-registry) and point LIVECOV_REGISTRY_BIN at it" >&2
		exit 1
	fi
	# invoke-rc.d asks policy-rc.d whether to start services; 101 means "no".
	policy=/usr/sbin/policy-rc.d
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
		$sudo chmod 755 "$policy"
		trap '$sudo rm -f "$policy"' EXIT
	fi
	$sudo apt-get update -q >&2
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends \
		docker-registry >&2
fi

# Stopped and disabled, whichever init system there is (or none, in a container).
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
	$sudo systemctl disable --now "$service.service" >/dev/null 2>&1 || true
elif command -v systemctl >/dev/null 2>&1; then
	# systemd is not running: disabling only removes the unit's symlinks.
	$sudo systemctl disable "$service.service" >/dev/null 2>&1 || true
fi
if [ -x "/etc/init.d/$service" ]; then
	if [ ! -d /run/systemd/system ]; then
		$sudo "/etc/init.d/$service" stop >/dev/null 2>&1 || true
	fi
	if command -v update-rc.d >/dev/null 2>&1; then
		$sudo update-rc.d "$service" disable >/dev/null 2>&1 || true
	fi
fi

"$bin" --version >&2 || {
	echo "install-registry.sh: $bin does not run" >&2
	exit 1
}
echo "$bin"
