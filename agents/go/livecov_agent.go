package main

// livecov Go agent: a coverage server inside a program built with `go build -cover`.
//
// Drop this one file into any `package main` directory. It uses the standard library
// only, and every top-level identifier and import name starts with `livecov` so it
// cannot collide with the host package. An init function starts it; in a binary built
// without -cover it returns at once (no goroutine, no port, no signal handler).
//
// It speaks the coverage-server protocol deployed in OpenShift builds (GET /coverage,
// ?nometa=1, GET /health, the X-Art-Coverage-* headers, ports from 53700) and adds
// POST /coverage/reset, a flush into GOCOVERDIR on SIGTERM/SIGINT, and push mode.
// See README.md beside this file for the environment variables and the protocol.
//
// File names carry the real build identity: the MetaFileHash at bytes 24..40 of the
// meta-data header (internal/coverage MetaFileHeader: Magic[4], Version u32,
// TotalLength u64, Entries u64, MetaFileHash[16], ...), which is also bytes 8..24 of
// every counter-data header.

import (
	livecovBytes "bytes"
	livecovBase64 "encoding/base64"
	livecovHex "encoding/hex"
	livecovJSON "encoding/json"
	livecovErrors "errors"
	livecovFmt "fmt"
	livecovIO "io"
	livecovLog "log"
	livecovNet "net"
	livecovHTTP "net/http"
	livecovOS "os"
	livecovSignal "os/signal"
	livecovFilepath "path/filepath"
	livecovCoverage "runtime/coverage"
	livecovStrconv "strconv"
	livecovStrings "strings"
	livecovSync "sync"
	livecovSyscall "syscall"
	livecovTime "time"
)

const (
	livecovAgentDefaultPort     = 53700
	livecovAgentPortsTried      = 50 // 53700-53749, as the deployed server; scanners look at +100
	livecovAgentDefaultInterval = 60 * livecovTime.Second
	livecovAgentDefaultGrace    = 5 * livecovTime.Second
	livecovAgentPushTimeout     = 30 * livecovTime.Second
	livecovAgentExitPushBudget  = 5 * livecovTime.Second
	livecovAgentMetaHeaderLen   = 56
	livecovAgentModeAtomic      = 3
)

// livecovAgentState is the running agent; nil when the binary has no coverage.
type livecovAgentState struct {
	hash    string // hex of the MetaFileHash
	mode    byte   // CMode byte of the meta header: 1 set, 2 count, 3 atomic
	pid     int
	headers [][2]string
	log     *livecovLog.Logger
	// mu serialises snapshots and resets, so a reset never lands inside a snapshot.
	mu livecovSync.Mutex
	// The base64 of the meta-data, made on the first snapshot that asks for it
	// (guarded by mu). The meta-data of a process never changes, so every later
	// snapshot with the meta costs its counters plus a copy: encoding the meta
	// (WriteMeta, then base64) was about two thirds of a full snapshot's CPU
	// (bench/README.md, "Go agent: the meta encoded once").
	metaB64 []byte
	// Size of the last snapshot's counters (guarded by mu).
	countersLen int
}

// livecovAgentSnapshot is the JSON body of GET /coverage and of a push. Field names
// and order are the deployed protocol's; meta_data is "" (not absent) with ?nometa=1.
// livecovAgentEncodeSnapshot writes it, the base64 fields from the raw bytes (the
// strings here stay empty).
type livecovAgentSnapshot struct {
	MetaFilename     string `json:"meta_filename"`
	MetaData         string `json:"meta_data"`
	CountersFilename string `json:"counters_filename"`
	CountersData     string `json:"counters_data"`
	Timestamp        int64  `json:"timestamp"`
}

var livecovAgent *livecovAgentState

// The runtime's coverage calls, as variables so the unit tests can stand in for them:
// runtime/coverage emits no meta-data inside a test binary until it exits.
var (
	livecovAgentWriteMetaTo     = livecovCoverage.WriteMeta
	livecovAgentWriteCountersTo = livecovCoverage.WriteCounters
	livecovAgentClearCounters   = livecovCoverage.ClearCounters
)

// The compiler appends runtime/coverage's start-up hook to main's variable
// initialisation, which runs before any init function, so WriteMeta already works here.
func init() {
	livecovAgent = livecovAgentStart()
}

// livecovAgentHeaderProbe keeps the first 56 bytes WriteMeta writes and then fails the
// write, so probing a -cover binary copies no package blobs.
type livecovAgentHeaderProbe struct {
	head [livecovAgentMetaHeaderLen]byte
	n    int
}

var livecovAgentErrProbeFull = livecovErrors.New("livecov agent: header probe full")

func (p *livecovAgentHeaderProbe) Write(b []byte) (int, error) {
	n := copy(p.head[p.n:], b)
	p.n += n
	if p.n == len(p.head) {
		return n, livecovAgentErrProbeFull
	}
	return n, nil
}

// livecovAgentReadHeader returns the meta hash and mode of the running binary, or
// ok=false when it was not built with -cover (WriteMeta then fails before writing).
func livecovAgentReadHeader() (hash string, mode byte, ok bool) {
	var probe livecovAgentHeaderProbe
	_ = livecovAgentWriteMetaTo(&probe)
	return livecovAgentParseHeader(probe.head[:probe.n])
}

func livecovAgentParseHeader(head []byte) (hash string, mode byte, ok bool) {
	if len(head) < livecovAgentMetaHeaderLen || !livecovBytes.Equal(head[:4], []byte{0x00, 0x63, 0x76, 0x6d}) {
		return "", 0, false
	}
	return livecovHex.EncodeToString(head[24:40]), head[48], true
}

func livecovAgentModeName(mode byte) string {
	switch mode {
	case 1:
		return "set"
	case 2:
		return "count"
	case 3:
		return "atomic"
	}
	return "mode" + livecovStrconv.Itoa(int(mode))
}

func livecovAgentStart() *livecovAgentState {
	if livecovAgentOff(livecovOS.Getenv("LIVECOV_AGENT")) {
		return nil
	}
	hash, mode, ok := livecovAgentReadHeader()
	if !ok {
		return nil // not built with -cover: do nothing, cost nothing
	}
	a := &livecovAgentState{
		hash: hash,
		mode: mode,
		pid:  livecovOS.Getpid(),
		log:  livecovLog.New(livecovOS.Stderr, "livecov agent: ", livecovLog.LstdFlags),
	}
	a.headers = livecovAgentIdentityHeaders(a.pid, hash, mode)
	if !livecovAgentOff(livecovOS.Getenv("LIVECOV_SERVE")) {
		a.serve()
	}
	if mode != livecovAgentModeAtomic {
		// Go reads counters of a running program in atomic mode only: push and the
		// signal flush could never succeed, so they are not started.
		a.log.Printf("built with -covermode=%s: live snapshots, reset, push and the signal flush need -covermode=atomic; serving /health and the headers only", livecovAgentModeName(mode))
		return a
	}
	if url := livecovOS.Getenv("LIVECOV_PUSH_URL"); url != "" {
		interval := livecovAgentDefaultInterval
		if v := livecovOS.Getenv("LIVECOV_PUSH_INTERVAL"); v != "" {
			if d, err := livecovAgentParseDuration(v); err == nil && d > 0 {
				interval = d
			} else {
				a.log.Printf("ignoring LIVECOV_PUSH_INTERVAL=%q (want a duration such as 60s); using %v", v, interval)
			}
		}
		go a.pushLoop(url, livecovOS.Getenv("LIVECOV_TOKEN_FILE"), interval)
	}
	if !livecovAgentOff(livecovOS.Getenv("LIVECOV_SIGNALS")) {
		a.watchSignals()
	}
	return a
}

func livecovAgentOff(v string) bool {
	switch livecovStrings.ToLower(livecovStrings.TrimSpace(v)) {
	case "0", "off", "false", "no":
		return true
	}
	return false
}

// livecovAgentParseDuration accepts a Go duration ("60s", "500ms") or whole seconds ("60").
func livecovAgentParseDuration(v string) (livecovTime.Duration, error) {
	v = livecovStrings.TrimSpace(v)
	if n, err := livecovStrconv.Atoi(v); err == nil {
		return livecovTime.Duration(n) * livecovTime.Second, nil
	}
	return livecovTime.ParseDuration(v)
}

func livecovAgentIdentityHeaders(pid int, hash string, mode byte) [][2]string {
	binary := "unknown"
	if exe, err := livecovOS.Executable(); err == nil {
		binary = livecovFilepath.Base(exe)
	}
	h := [][2]string{
		{"X-Art-Coverage-Server", "1"},
		{"X-Art-Coverage-Pid", livecovStrconv.Itoa(pid)},
		{"X-Art-Coverage-Binary", binary},
	}
	optional := []struct{ name, env, fallback string }{
		{"X-Art-Coverage-Source-Commit", "SOURCE_GIT_COMMIT", ""},
		{"X-Art-Coverage-Source-Url", "SOURCE_GIT_URL", ""},
		{"X-Art-Coverage-Software-Group", "SOFTWARE_GROUP", "__doozer_group"},
		{"X-Art-Coverage-Software-Key", "SOFTWARE_KEY", "__doozer_key"},
	}
	for _, o := range optional {
		v := livecovOS.Getenv(o.env)
		if v == "" && o.fallback != "" {
			v = livecovOS.Getenv(o.fallback)
		}
		if v != "" {
			h = append(h, [2]string{o.name, v})
		}
	}
	// Extensions: the build identity without fetching the meta, and what the agent can do.
	h = append(h,
		[2]string{"X-Livecov-Agent", "go/1"},
		[2]string{"X-Livecov-Meta-Hash", hash},
		[2]string{"X-Livecov-Cover-Mode", livecovAgentModeName(mode)},
	)
	// Where the flush at exit goes, for `livecov doctor`: checked once, at start.
	dir := livecovOS.Getenv("GOCOVERDIR")
	if dir == "" {
		return append(h, [2]string{"X-Livecov-Gocoverdir", "unset"})
	}
	return append(h,
		[2]string{"X-Livecov-Gocoverdir", dir},
		[2]string{"X-Livecov-Gocoverdir-Writable", livecovAgentWritable(dir)},
	)
}

// livecovAgentWritable is "yes" when a file can be created in dir, else "no: " and why.
func livecovAgentWritable(dir string) string {
	f, err := livecovOS.CreateTemp(dir, ".livecov-probe-*")
	if err != nil {
		return "no: " + livecovStrings.ReplaceAll(err.Error(), "\n", " ")
	}
	name := f.Name()
	f.Close()
	livecovOS.Remove(name)
	return "yes"
}

// --- snapshots -------------------------------------------------------------------

// snapshot reads the counters and, when withMeta, returns the meta-data's base64
// beside them, in one step. The base64 is shared with later snapshots: read only.
func (a *livecovAgentState) snapshot(withMeta bool) (livecovAgentSnapshot, []byte, []byte, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var metaB64 []byte
	if withMeta {
		if a.metaB64 == nil {
			raw, err := livecovAgentWriteMeta()
			if err != nil {
				return livecovAgentSnapshot{}, nil, nil, err
			}
			a.metaB64 = livecovAgentBase64(raw)
		}
		metaB64 = a.metaB64
	}
	// Sized from the last snapshot (the counters hardly change in size), so the buffer
	// is not grown by doubling: less garbage for the GC to chase.
	var counters livecovBytes.Buffer
	counters.Grow(a.countersLen + a.countersLen/8)
	if err := livecovAgentWriteCountersTo(&counters); err != nil {
		return livecovAgentSnapshot{}, nil, nil, livecovFmt.Errorf("Failed to collect counters: %v", err)
	}
	a.countersLen = counters.Len()
	ts := livecovTime.Now().UnixNano()
	// The base64 fields are left empty: livecovAgentEncodeSnapshot writes them from the
	// bytes returned beside.
	s := livecovAgentSnapshot{
		CountersFilename: livecovFmt.Sprintf("covcounters.%s.%d.%d", a.hash, a.pid, ts),
		Timestamp:        ts,
	}
	if withMeta {
		s.MetaFilename = "covmeta." + a.hash
	}
	return s, metaB64, counters.Bytes(), nil
}

// livecovAgentWriteMeta returns the meta-data file of the running binary.
func livecovAgentWriteMeta() ([]byte, error) {
	var meta livecovBytes.Buffer
	if err := livecovAgentWriteMetaTo(&meta); err != nil {
		return nil, livecovFmt.Errorf("Failed to collect metadata: %v", err)
	}
	return meta.Bytes(), nil
}

func livecovAgentBase64(raw []byte) []byte {
	b := make([]byte, livecovBase64.StdEncoding.EncodedLen(len(raw)))
	livecovBase64.StdEncoding.Encode(b, raw)
	return b
}

func (a *livecovAgentState) snapshotJSON(withMeta bool) ([]byte, error) {
	s, metaB64, counters, err := a.snapshot(withMeta)
	if err != nil {
		return nil, err
	}
	return livecovAgentEncodeSnapshot(s, metaB64, counters)
}

// writeSnapshot answers GET /coverage with the body in three writes, the cached meta's
// base64 written as it is: no copy of it into a fresh body, which for an 80,000-block
// program was a 1.5 MB allocation per full snapshot (and GC work to match).
func (a *livecovAgentState) writeSnapshot(w livecovHTTP.ResponseWriter, withMeta bool) error {
	s, metaB64, counters, err := a.snapshot(withMeta)
	if err != nil {
		return err
	}
	head, tail, err := livecovAgentSnapshotParts(s, counters)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", livecovStrconv.Itoa(len(head)+len(metaB64)+len(tail)))
	w.WriteHeader(livecovHTTP.StatusOK)
	for _, part := range [][]byte{head, metaB64, tail} {
		if _, err := w.Write(part); err != nil {
			return nil // the collector went away; nothing to answer
		}
	}
	return nil
}

// livecovAgentEncodeSnapshot writes the JSON body of a snapshot, byte for byte what
// json.Marshal(s) gives followed by a newline, with the meta's base64 (metaB64, already
// encoded) copied and the counters' base64 encoded straight into the body. json.Marshal
// would scan those strings byte by byte for characters to escape (base64 has none),
// and in a -coverpkg=all build every step of that scan bumps a coverage counter: for
// an 80,000-block program it was about half the CPU of a snapshot with the meta
// (issue 9's bench, bench/README.md). GET /coverage writes the same bytes in three
// parts (writeSnapshot); a push sends this body.
func livecovAgentEncodeSnapshot(s livecovAgentSnapshot, metaB64, counters []byte) ([]byte, error) {
	head, tail, err := livecovAgentSnapshotParts(s, counters)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, len(head)+len(metaB64)+len(tail))
	b = append(b, head...)
	b = append(b, metaB64...)
	return append(b, tail...), nil
}

// livecovAgentSnapshotParts is the body around the meta's base64: everything before
// it, and everything after it (the counters' base64 encoded straight in).
func livecovAgentSnapshotParts(s livecovAgentSnapshot, counters []byte) (head, tail []byte, err error) {
	enc := livecovBase64.StdEncoding
	metaName, err := livecovJSON.Marshal(s.MetaFilename)
	if err != nil {
		return nil, nil, livecovFmt.Errorf("encoding the snapshot: %v", err)
	}
	countersName, err := livecovJSON.Marshal(s.CountersFilename)
	if err != nil {
		return nil, nil, livecovFmt.Errorf("encoding the snapshot: %v", err)
	}
	head = make([]byte, 0, 32+len(metaName))
	head = append(head, `{"meta_filename":`...)
	head = append(head, metaName...)
	head = append(head, `,"meta_data":"`...)
	// 96: the fixed text after the meta (75 bytes with a 20-character timestamp), so
	// the tail is never copied to grow.
	tail = make([]byte, 0, 96+len(countersName)+enc.EncodedLen(len(counters)))
	tail = append(tail, `","counters_filename":`...)
	tail = append(tail, countersName...)
	tail = append(tail, `,"counters_data":"`...)
	n := len(tail)
	tail = tail[:n+enc.EncodedLen(len(counters))]
	enc.Encode(tail[n:], counters)
	tail = append(tail, `","timestamp":`...)
	tail = livecovStrconv.AppendInt(tail, s.Timestamp, 10)
	tail = append(tail, "}\n"...)
	return head, tail, nil
}

// --- HTTP server -------------------------------------------------------------------

func (a *livecovAgentState) serve() {
	start := livecovAgentDefaultPort
	if v := livecovOS.Getenv("COVERAGE_PORT"); v != "" {
		if p, err := livecovStrconv.Atoi(v); err == nil && p > 0 && p < 65536 {
			start = p
		} else {
			a.log.Printf("ignoring COVERAGE_PORT=%q (want a port number); starting at %d", v, start)
		}
	}
	host := livecovOS.Getenv("LIVECOV_LISTEN_HOST") // empty: every interface, like the deployed server
	var ln livecovNet.Listener
	for port := start; port < start+livecovAgentPortsTried && port < 65536; port++ {
		l, err := livecovNet.Listen("tcp", livecovNet.JoinHostPort(host, livecovStrconv.Itoa(port)))
		if err == nil {
			ln = l
			break
		}
	}
	if ln == nil {
		a.log.Printf("no free port in %d-%d; not serving (push mode, if set, still works)", start, start+livecovAgentPortsTried-1)
		return
	}
	a.log.Printf("serving coverage on %s (pid %d, build %s)", ln.Addr(), a.pid, a.hash)
	srv := &livecovHTTP.Server{
		Handler:           livecovHTTP.HandlerFunc(a.route),
		ReadHeaderTimeout: 10 * livecovTime.Second,
		ErrorLog:          a.log,
	}
	go func() {
		if err := srv.Serve(ln); err != nil && err != livecovHTTP.ErrServerClosed {
			a.log.Printf("coverage server stopped: %v", err)
		}
	}()
}

func (a *livecovAgentState) route(w livecovHTTP.ResponseWriter, r *livecovHTTP.Request) {
	for _, h := range a.headers {
		w.Header().Set(h[0], h[1])
	}
	// HEAD is the identity probe: headers only, nothing collected.
	if r.Method == livecovHTTP.MethodHead {
		switch r.URL.Path {
		case "/health", "/coverage", "/coverage/reset":
			w.WriteHeader(livecovHTTP.StatusOK)
		default:
			w.WriteHeader(livecovHTTP.StatusNotFound)
		}
		return
	}
	switch r.URL.Path {
	case "/health":
		livecovAgentWrite(w, livecovHTTP.StatusOK, "text/plain; charset=utf-8", []byte("coverage server healthy"))
	case "/coverage":
		if r.Method != livecovHTTP.MethodGet && r.Method != livecovHTTP.MethodPost {
			livecovAgentMethodNotAllowed(w, "GET, HEAD")
			return
		}
		if err := a.writeSnapshot(w, r.URL.Query().Get("nometa") != "1"); err != nil {
			livecovAgentWrite(w, livecovHTTP.StatusInternalServerError, "text/plain; charset=utf-8", []byte(err.Error()+"\n"))
		}
	case "/coverage/reset":
		if r.Method != livecovHTTP.MethodPost {
			livecovAgentMethodNotAllowed(w, "POST")
			return
		}
		a.reset(w)
	default:
		livecovAgentWrite(w, livecovHTTP.StatusNotFound, "text/plain; charset=utf-8", []byte("404 page not found\n"))
	}
}

func (a *livecovAgentState) reset(w livecovHTTP.ResponseWriter) {
	if a.mode != livecovAgentModeAtomic {
		msg := livecovFmt.Sprintf("reset needs a binary built with -covermode=atomic; this one was built with -covermode=%s, whose counters cannot be cleared while it runs (rebuild with -covermode=atomic)\n", livecovAgentModeName(a.mode))
		livecovAgentWrite(w, livecovHTTP.StatusConflict, "text/plain; charset=utf-8", []byte(msg))
		return
	}
	a.mu.Lock()
	err := livecovAgentClearCounters()
	ts := livecovTime.Now().UnixNano()
	a.mu.Unlock()
	if err != nil {
		livecovAgentWrite(w, livecovHTTP.StatusInternalServerError, "text/plain; charset=utf-8", []byte("reset failed: "+err.Error()+"\n"))
		return
	}
	livecovAgentWrite(w, livecovHTTP.StatusOK, "application/json", []byte(livecovFmt.Sprintf("{\"reset\":true,\"timestamp\":%d}\n", ts)))
}

func livecovAgentMethodNotAllowed(w livecovHTTP.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	livecovAgentWrite(w, livecovHTTP.StatusMethodNotAllowed, "text/plain; charset=utf-8", []byte("method not allowed; use "+allow+"\n"))
}

func livecovAgentWrite(w livecovHTTP.ResponseWriter, status int, contentType string, body []byte) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", livecovStrconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// --- push mode ---------------------------------------------------------------------

func (a *livecovAgentState) pushLoop(url, tokenFile string, interval livecovTime.Duration) {
	defer func() {
		if p := recover(); p != nil {
			a.log.Printf("push loop stopped after a panic: %v", p)
		}
	}()
	if tokenFile == "" {
		a.log.Printf("LIVECOV_PUSH_URL is set without LIVECOV_TOKEN_FILE: pushing without a token")
	}
	a.log.Printf("pushing snapshots to %s every %v", url, interval)
	failures := 0
	lastErr := ""
	reason := "interval"
	// The first push comes a second after start (sooner if the interval is shorter),
	// so the receiver knows the process and its build at once.
	wait := livecovTime.Second
	if interval < wait {
		wait = interval
	}
	for {
		livecovTime.Sleep(wait)
		err := a.push(url, tokenFile, reason, livecovAgentPushTimeout)
		if err == nil {
			if failures > 0 {
				a.log.Printf("push to %s works again after %d failed attempts", url, failures)
			}
			failures, lastErr, reason, wait = 0, "", "interval", interval
			continue
		}
		failures++
		reason = "retry"
		wait = livecovAgentBackoff(failures, interval)
		// Say each new problem once, and keep reminding while it lasts.
		if msg := err.Error(); msg != lastErr || failures%20 == 0 {
			a.log.Printf("push to %s failed (attempt %d, retrying with backoff): %v", url, failures, err)
			lastErr = msg
		}
	}
}

// livecovAgentBackoff is the wait before retry number `failures`: 1s, 2s, 4s … capped
// at the push interval (a later snapshot supersedes an earlier one, so there is
// nothing to queue).
func livecovAgentBackoff(failures int, interval livecovTime.Duration) livecovTime.Duration {
	d := livecovTime.Second
	for i := 1; i < failures && d < interval; i++ {
		d *= 2
	}
	if d > interval {
		d = interval
	}
	return d
}

func (a *livecovAgentState) push(url, tokenFile, reason string, timeout livecovTime.Duration) error {
	body, err := a.snapshotJSON(true)
	if err != nil {
		return err
	}
	req, err := livecovHTTP.NewRequest(livecovHTTP.MethodPost, url, livecovBytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	for _, h := range a.headers {
		req.Header.Set(h[0], h[1])
	}
	req.Header.Set("X-Livecov-Push-Reason", reason)
	if tokenFile != "" {
		// Read on every push: mounted tokens (Kubernetes projected volumes) rotate.
		tok, err := livecovOS.ReadFile(tokenFile)
		if err != nil {
			return livecovFmt.Errorf("reading the token (LIVECOV_TOKEN_FILE): %v", err)
		}
		req.Header.Set("Authorization", "Bearer "+livecovStrings.TrimSpace(string(tok)))
	}
	client := &livecovHTTP.Client{Timeout: timeout, Transport: livecovAgentTransport()}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	detail, _ := livecovIO.ReadAll(livecovIO.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return livecovFmt.Errorf("%s: %s", resp.Status, livecovStrings.TrimSpace(string(detail)))
	}
	return nil
}

var (
	livecovAgentTransportOnce livecovSync.Once
	livecovAgentTransportVal  livecovHTTP.RoundTripper
)

// livecovAgentTransport is the agent's own transport, so the program's changes to
// http.DefaultTransport (or its connection pool) are not touched.
func livecovAgentTransport() livecovHTTP.RoundTripper {
	livecovAgentTransportOnce.Do(func() {
		if t, ok := livecovHTTP.DefaultTransport.(*livecovHTTP.Transport); ok {
			livecovAgentTransportVal = t.Clone()
		} else {
			livecovAgentTransportVal = &livecovHTTP.Transport{Proxy: livecovHTTP.ProxyFromEnvironment}
		}
	})
	return livecovAgentTransportVal
}

// pushAtExit makes a last push within a short budget, one retry on failure.
func (a *livecovAgentState) pushAtExit() {
	url := livecovOS.Getenv("LIVECOV_PUSH_URL")
	if url == "" {
		return
	}
	deadline := livecovTime.Now().Add(livecovAgentExitPushBudget)
	for attempt := 1; attempt <= 2; attempt++ {
		left := livecovTime.Until(deadline)
		if left <= 0 {
			break
		}
		err := a.push(url, livecovOS.Getenv("LIVECOV_TOKEN_FILE"), "exit", left)
		if err == nil {
			return
		}
		a.log.Printf("final push to %s failed (attempt %d): %v", url, attempt, err)
		livecovTime.Sleep(200 * livecovTime.Millisecond)
	}
}

// --- signals -----------------------------------------------------------------------

// watchSignals flushes coverage on the first SIGTERM or SIGINT without taking the
// signal away from the program.
//
// signal.Notify is multicast: the program's own channels get the signal too. But while
// any channel is registered, the default action (terminate) is off, so a program with
// no handler of its own would no longer stop. Hence, on the first signal:
//  1. signal.Stop on the agent's channel at once: from then on the signal does exactly
//     what the program set up (its handlers, or termination when it has none);
//  2. flush the meta and a counter snapshot into GOCOVERDIR (when set) and push a
//     last snapshot (when push mode is on);
//  3. give the program LIVECOV_SIGNAL_GRACE (default 5s) to exit by itself; if it is
//     still running, send it the same signal again. A program without a handler then
//     dies of the signal as it would have without the agent; a program with a handler
//     sees a second signal, as if the user had pressed ^C twice.
//
// Go offers no way to ask whether another channel is registered (the runtime keeps
// SIGTERM and SIGINT unblocked either way), so the grace period is the compromise:
// re-raising at once would cut short programs whose handler treats a second signal as
// "exit now" (Kubernetes' SetupSignalHandler does); never re-raising would leave
// programs without a handler running. LIVECOV_SIGNAL_GRACE=0 re-raises at once,
// LIVECOV_SIGNAL_GRACE=never never does.
//
// A signal that was ignored when the program started (nohup, a background job) is left
// alone: Notify would turn it back on.
func (a *livecovAgentState) watchSignals() {
	grace := livecovAgentDefaultGrace
	if v := livecovOS.Getenv("LIVECOV_SIGNAL_GRACE"); v != "" {
		if livecovStrings.EqualFold(livecovStrings.TrimSpace(v), "never") {
			grace = -1
		} else if d, err := livecovAgentParseDuration(v); err == nil && d >= 0 {
			grace = d
		} else {
			a.log.Printf("ignoring LIVECOV_SIGNAL_GRACE=%q (want a duration or never); using %v", v, grace)
		}
	}
	var sigs []livecovOS.Signal
	for _, s := range []livecovOS.Signal{livecovSyscall.SIGTERM, livecovOS.Interrupt} {
		if !livecovSignal.Ignored(s) {
			sigs = append(sigs, s)
		}
	}
	if len(sigs) == 0 {
		return
	}
	ch := make(chan livecovOS.Signal, 1)
	livecovSignal.Notify(ch, sigs...)
	go func() {
		sig := <-ch
		livecovSignal.Stop(ch)
		a.onSignal(sig, grace)
	}()
}

func (a *livecovAgentState) onSignal(sig livecovOS.Signal, grace livecovTime.Duration) {
	defer func() {
		if p := recover(); p != nil {
			a.log.Printf("signal flush failed with a panic: %v", p)
		}
	}()
	if dir := livecovOS.Getenv("GOCOVERDIR"); dir != "" {
		if name, err := a.flushDir(dir); err != nil {
			a.log.Printf("%v: could not flush coverage into GOCOVERDIR=%s: %v", sig, dir, err)
		} else {
			a.log.Printf("%v: flushed coverage into %s", sig, livecovFilepath.Join(dir, name))
		}
	}
	a.pushAtExit()
	if grace < 0 {
		return
	}
	livecovTime.Sleep(grace)
	if p, err := livecovOS.FindProcess(a.pid); err == nil {
		_ = p.Signal(sig)
	}
}

// flushDir writes covmeta.<hash> (when missing) and a counter snapshot into dir. Each
// file goes to a temporary name first and is renamed, so a process that exits during
// the flush never leaves a truncated file for `go tool covdata` to trip on. The
// meta-data is written fresh (the cache holds its base64, and this runs once, at exit).
func (a *livecovAgentState) flushDir(dir string) (string, error) {
	s, _, counters, err := a.snapshot(false)
	if err != nil {
		return "", err
	}
	metaName := "covmeta." + a.hash
	if _, err := livecovOS.Stat(livecovFilepath.Join(dir, metaName)); err != nil {
		meta, err := livecovAgentWriteMeta()
		if err != nil {
			return "", err
		}
		if err := livecovAgentWriteFile(dir, metaName, meta); err != nil {
			return "", err
		}
	}
	if err := livecovAgentWriteFile(dir, s.CountersFilename, counters); err != nil {
		return "", err
	}
	return s.CountersFilename, nil
}

func livecovAgentWriteFile(dir, name string, data []byte) error {
	final := livecovFilepath.Join(dir, name)
	// The dot keeps the temporary name out of covdata's view; 0644 (less the umask)
	// matches what the runtime writes.
	tmpName := livecovFilepath.Join(dir, livecovFmt.Sprintf(".livecov-%s.%d.tmp", name, livecovOS.Getpid()))
	tmp, err := livecovOS.OpenFile(tmpName, livecovOS.O_WRONLY|livecovOS.O_CREATE|livecovOS.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, werr := tmp.Write(data)
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = livecovOS.Rename(tmpName, final)
	}
	if werr != nil {
		_ = livecovOS.Remove(tmpName)
	}
	return werr
}
