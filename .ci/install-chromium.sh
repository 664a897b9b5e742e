#!/usr/bin/env bash
# Installs Debian's chromium and chromium-driver, once, for the browser tests
# (crates/livecov/tests/browser.rs start their own chromedriver on 127.0.0.1).
# Idempotent; apt's output goes to stderr.
set -euo pipefail
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
	exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
	echo "install-chromium.sh: install chromium and chromedriver, or set LIVECOV_CHROMIUM and" \
		"LIVECOV_CHROMEDRIVER" >&2
	exit 1
fi
$sudo apt-get update -q >&2
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends \
	chromium chromium-driver >&2
