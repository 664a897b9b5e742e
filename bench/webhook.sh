#!/usr/bin/env bash
# webhook.sh - issue 11 target: webhook to pending status, p99 under 50 ms with 1,000
# deliveries in flight.
#
# usage: bench/webhook.sh [--deliveries N] [--rounds R] [--workers W]   (defaults 1000, 3, 64)
# env: LIVECOV (default $CARGO_TARGET_DIR/release/livecov, built when missing)
#
# A real `livecov serve --webhook --runner dry-run` on 127.0.0.1; GitHub is the tests'
# local stand-in (crates/livecov-server/tests/support/github_standin.rs: NOT GitHub, no
# network), which answers with recorded GitHub payloads. The load generator
# (crates/livecov-server/examples/webhook_load.rs) starts all N signed pull_request
# deliveries at once and measures, per delivery, the time from its request being sent to
# its pending commit status arriving at the stand-in (which includes the webhook's own
# GET of the pull request's changed files). Prints p50/p90/p99/max per round and overall.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
target="${CARGO_TARGET_DIR:-$here/../target}"
LIVECOV="${LIVECOV:-$target/release/livecov}"
cd "$here/.."
if [ ! -x "$LIVECOV" ]; then
	cargo build --release --locked -p livecov
fi
cargo build --release --locked -q -p livecov-server --example webhook_load
echo "machine: $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg)"
"$target/release/examples/webhook_load" --livecov "$LIVECOV" "$@"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
