#!/usr/bin/env bash
# Installs fake-gcs-server (github.com/fsouza/fake-gcs-server, a Go program from the Go
# module proxy), once, and prints the path of its binary. The GCS download tests of
# livecov-collect start it on 127.0.0.1 (they find it through LIVECOV_FAKE_GCS_BIN,
# PATH, or this cache directory).
#
# Idempotent: a second run only checks that the installed binary starts. Override the
# cache directory with LIVECOV_CI_TOOLS and the Go toolchain with GO. Output of go goes to
# stderr, so that
#   export LIVECOV_FAKE_GCS_BIN="$(bash .ci/install-fake-gcs.sh)"
# works.
set -euo pipefail
version="v1.52.3"
tools="${LIVECOV_CI_TOOLS:-/var/tmp/livecov-ci-tools}"
bindir="$tools/fake-gcs-server-$version/bin"
server="$bindir/fake-gcs-server"
go="${GO:-$(command -v go || echo /usr/local/go/bin/go)}"

runs() { [ -x "$server" ] && "$server" -help >/dev/null 2>&1; }

if ! runs; then
	mkdir -p "$bindir"
	echo "install-fake-gcs.sh: go install github.com/fsouza/fake-gcs-server@$version into $bindir" >&2
	GOBIN="$bindir" GOPROXY="${GOPROXY:-https://proxy.golang.org}" GOFLAGS=-mod=mod \
		GOPATH="${GOPATH:-$tools/gopath}" GOCACHE="${GOCACHE:-$tools/gocache}" \
		"$go" install "github.com/fsouza/fake-gcs-server@$version" >&2
fi
runs || {
	echo "install-fake-gcs.sh: $server does not run after go install" >&2
	exit 1
}
echo "$server"
