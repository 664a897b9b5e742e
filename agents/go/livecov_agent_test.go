package main

// Unit tests of the agent's pieces that need no -cover build (where the runtime's
// coverage calls are needed, a stand-in replaces them). The end-to-end tests (real
// builds, signals, push) are crates/livecov/tests/go_agent.rs.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The agent file has no main of its own: it is dropped beside one.
func main() {}

func TestParseHeaderTakesTheHashAtOffset24(t *testing.T) {
	head := make([]byte, livecovAgentMetaHeaderLen)
	copy(head, []byte{0x00, 0x63, 0x76, 0x6d, 1, 0, 0, 0})
	head[16] = 7 // Entries: the bytes the deployed server wrongly took as the hash
	for i := 0; i < 16; i++ {
		head[24+i] = byte(0xa0 + i)
	}
	head[48] = 3
	hash, mode, ok := livecovAgentParseHeader(head)
	if !ok || mode != 3 || hash != "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf" {
		t.Fatalf("got %q %d %v", hash, mode, ok)
	}
	if _, _, ok := livecovAgentParseHeader(head[:40]); ok {
		t.Fatal("a short header parsed")
	}
	head[1] = 'x'
	if _, _, ok := livecovAgentParseHeader(head); ok {
		t.Fatal("a bad magic parsed")
	}
}

func TestWithoutCoverTheAgentIsOff(t *testing.T) {
	// `go test` without -cover: WriteMeta fails, so init started nothing.
	if livecovAgent != nil {
		t.Skip("running under -cover")
	}
	if _, _, ok := livecovAgentReadHeader(); ok {
		t.Fatal("a header from a binary without -cover")
	}
}

func TestBackoffDoublesUpToTheInterval(t *testing.T) {
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second}
	for i, w := range want {
		if got := livecovAgentBackoff(i+1, 10*time.Second); got != w {
			t.Errorf("failure %d: %v, want %v", i+1, got, w)
		}
	}
	if got := livecovAgentBackoff(3, 300*time.Millisecond); got != 300*time.Millisecond {
		t.Errorf("short interval: %v", got)
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"60": time.Minute, "500ms": 500 * time.Millisecond, " 2m ": 2 * time.Minute} {
		if got, err := livecovAgentParseDuration(in); err != nil || got != want {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
	if _, err := livecovAgentParseDuration("soon"); err == nil {
		t.Error("accepted soon")
	}
}

func TestWriteFileLeavesNoTemporary(t *testing.T) {
	dir := t.TempDir()
	if err := livecovAgentWriteFile(dir, "covcounters.x.1.2", []byte("data")); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "covcounters.x.1.2" {
		t.Fatalf("entries: %v", entries)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "covcounters.x.1.2")); string(b) != "data" {
		t.Fatalf("content %q", b)
	}
	if err := livecovAgentWriteFile(filepath.Join(dir, "missing"), "f", nil); err == nil {
		t.Fatal("wrote into a missing directory")
	}
}

func TestRoutes(t *testing.T) {
	a := &livecovAgentState{hash: "00112233445566778899aabbccddeeff", mode: 1, pid: 42}
	a.headers = livecovAgentIdentityHeaders(42, a.hash, a.mode)
	do := func(method, path string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		a.route(w, httptest.NewRequest(method, path, nil))
		if w.Header().Get("X-Art-Coverage-Server") != "1" || w.Header().Get("X-Art-Coverage-Pid") != "42" {
			t.Errorf("%s %s: identity headers missing: %v", method, path, w.Header())
		}
		return w
	}
	if w := do("GET", "/health"); w.Code != 200 || w.Body.String() != "coverage server healthy" {
		t.Errorf("health: %d %q", w.Code, w.Body.String())
	}
	if w := do("HEAD", "/coverage"); w.Code != 200 || w.Body.Len() != 0 {
		t.Errorf("HEAD: %d %q", w.Code, w.Body.String())
	}
	if w := do("POST", "/coverage/reset"); w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), "-covermode=atomic") {
		t.Errorf("reset in set mode: %d %q", w.Code, w.Body.String())
	}
	if w := do("GET", "/coverage/reset"); w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "POST" {
		t.Errorf("GET reset: %d", w.Code)
	}
	// No -cover here: the runtime's error, as a 500.
	if w := do("GET", "/coverage"); w.Code != 500 || !strings.Contains(w.Body.String(), "Failed to collect") {
		t.Errorf("coverage: %d %q", w.Code, w.Body.String())
	}
	if w := do("HEAD", "/elsewhere"); w.Code != 404 || w.Body.Len() != 0 {
		t.Errorf("HEAD elsewhere: %d", w.Code)
	}
	if w := do("GET", "/elsewhere"); w.Code != 404 {
		t.Errorf("404: %d", w.Code)
	}
}

// The snapshot body is written by hand (not json.Marshal over the base64 strings), and
// must stay what json.Marshal gives: the protocol's field names and order, "" for an
// absent meta.
func TestEncodeSnapshotIsWhatJSONMarshalGives(t *testing.T) {
	meta := make([]byte, 1000)
	for i := range meta {
		meta[i] = byte(i * 7)
	}
	counters := []byte{0x00, 0x63, 0x77, 0x6d, 0xff, 0xfe, 0x01}
	for _, tc := range []struct {
		name, metaName, countsName string
		meta, counters             []byte
	}{
		{"with meta", "covmeta.00112233445566778899aabbccddeeff", "covcounters.00112233445566778899aabbccddeeff.42.1700000000000000000", meta, counters},
		{"nometa", "", "covcounters.00112233445566778899aabbccddeeff.42.1", nil, counters},
		{"names needing escapes", "covmeta.<a&b>\"", "covcounters.\u2028.\n", []byte{1, 2}, counters[:1]},
		{"empty counters", "covmeta.x", "covcounters.x.1.2", meta[:3], nil},
	} {
		s := livecovAgentSnapshot{MetaFilename: tc.metaName, CountersFilename: tc.countsName, Timestamp: -5}
		got, err := livecovAgentEncodeSnapshot(s, livecovAgentBase64(tc.meta), tc.counters)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		s.MetaData = base64.StdEncoding.EncodeToString(tc.meta)
		s.CountersData = base64.StdEncoding.EncodeToString(tc.counters)
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want)+"\n" {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, want)
		}
	}
}

// livecovFakeCoverage stands in for runtime/coverage: a 1 MiB meta-data file, and
// counters that say how many snapshots were taken since the last clear.
type livecovFakeCoverage struct {
	meta                  []byte
	metaCalls, sinceClear int
	clears, countersCalls int
}

func livecovUseFakeCoverage(t *testing.T) *livecovFakeCoverage {
	f := &livecovFakeCoverage{meta: make([]byte, 1<<20)}
	for i := range f.meta {
		f.meta[i] = byte(i*131 + i>>9)
	}
	oldMeta, oldCounters, oldClear := livecovAgentWriteMetaTo, livecovAgentWriteCountersTo, livecovAgentClearCounters
	t.Cleanup(func() {
		livecovAgentWriteMetaTo, livecovAgentWriteCountersTo, livecovAgentClearCounters = oldMeta, oldCounters, oldClear
	})
	livecovAgentWriteMetaTo = func(w io.Writer) error {
		f.metaCalls++
		_, err := w.Write(f.meta)
		return err
	}
	livecovAgentWriteCountersTo = func(w io.Writer) error {
		f.countersCalls++
		f.sinceClear++
		_, err := w.Write([]byte{0x00, 0x63, 0x77, 0x6d, byte(f.sinceClear)})
		return err
	}
	livecovAgentClearCounters = func() error {
		f.clears++
		f.sinceClear = 0
		return nil
	}
	return f
}

func livecovDecodeSnapshot(t *testing.T, body []byte) livecovAgentSnapshot {
	t.Helper()
	var s livecovAgentSnapshot
	if err := json.Unmarshal(body, &s); err != nil {
		t.Fatalf("snapshot body: %v", err)
	}
	// Byte for byte what json.Marshal writes for the decoded fields.
	again, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if string(body) != string(again)+"\n" {
		t.Fatal("the body is not what json.Marshal gives")
	}
	return s
}

// The meta's base64 is made on the first full snapshot and reused: later bodies equal
// those of an agent with no cache, and WriteMeta runs once.
func TestCachedMetaGivesTheSameBodyAsAFreshEncoding(t *testing.T) {
	fake := livecovUseFakeCoverage(t)
	const hash = "00112233445566778899aabbccddeeff"
	a := &livecovAgentState{hash: hash, mode: livecovAgentModeAtomic, pid: 42}
	wantMeta := base64.StdEncoding.EncodeToString(fake.meta)
	for i := 1; i <= 3; i++ {
		body, err := a.snapshotJSON(true)
		if err != nil {
			t.Fatal(err)
		}
		got := livecovDecodeSnapshot(t, body)
		fresh := &livecovAgentState{hash: hash, mode: livecovAgentModeAtomic, pid: 42}
		fs, fmeta, fcounters, err := fresh.snapshot(true)
		if err != nil {
			t.Fatal(err)
		}
		fs.CountersFilename, fs.Timestamp = got.CountersFilename, got.Timestamp
		freshBody, err := livecovAgentEncodeSnapshot(fs, fmeta, fcounters)
		if err != nil {
			t.Fatal(err)
		}
		// The fresh agent's counters are one snapshot further on; their last byte aside,
		// the bodies are equal.
		got.CountersData = ""
		fromFresh := livecovDecodeSnapshot(t, freshBody)
		fromFresh.CountersData = ""
		if got != fromFresh || got.MetaData == "" {
			t.Fatalf("snapshot %d: cached and fresh bodies differ", i)
		}
		if !strings.Contains(string(body), `"meta_data":"`+wantMeta+`"`) || got.MetaFilename != "covmeta."+hash {
			t.Fatalf("snapshot %d: not the meta's base64", i)
		}
	}
	// One WriteMeta for the cached agent, one per fresh agent.
	if fake.metaCalls != 1+3 {
		t.Fatalf("WriteMeta ran %d times, want 4", fake.metaCalls)
	}
	// nometa: meta fields empty, nothing encoded.
	body, err := a.snapshotJSON(false)
	if err != nil {
		t.Fatal(err)
	}
	if s := livecovDecodeSnapshot(t, body); s.MetaData != "" || s.MetaFilename != "" || s.CountersData == "" {
		t.Fatalf("nometa: %+v", s)
	}
	if fake.metaCalls != 4 {
		t.Fatal("a nometa snapshot read the meta")
	}
}

// With the meta cached, reset still clears the counters and leaves the meta alone,
// and the flush writes the full meta file (fresh) beside the counters.
func TestResetAndFlushWorkWithTheMetaCached(t *testing.T) {
	fake := livecovUseFakeCoverage(t)
	a := &livecovAgentState{hash: "00112233445566778899aabbccddeeff", mode: livecovAgentModeAtomic, pid: 42}
	for i := 0; i < 2; i++ {
		if _, err := a.snapshotJSON(true); err != nil {
			t.Fatal(err)
		}
	}
	w := httptest.NewRecorder()
	a.route(w, httptest.NewRequest("POST", "/coverage/reset", nil))
	if w.Code != 200 || fake.clears != 1 || !strings.HasPrefix(w.Body.String(), `{"reset":true,"timestamp":`) {
		t.Fatalf("reset: %d %q, %d clears", w.Code, w.Body.String(), fake.clears)
	}
	w = httptest.NewRecorder()
	a.route(w, httptest.NewRequest("GET", "/coverage", nil))
	if w.Code != 200 || w.Header().Get("Content-Length") != strconv.Itoa(w.Body.Len()) || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("GET /coverage: %d, Content-Length %q for %d bytes", w.Code, w.Header().Get("Content-Length"), w.Body.Len())
	}
	after := livecovDecodeSnapshot(t, w.Body.Bytes())
	if after.MetaData != base64.StdEncoding.EncodeToString(fake.meta) {
		t.Fatal("the meta changed across a reset")
	}
	if after.CountersData != base64.StdEncoding.EncodeToString([]byte{0x00, 0x63, 0x77, 0x6d, 1}) {
		t.Fatalf("counters after the reset: %q", after.CountersData)
	}

	dir := t.TempDir()
	name, err := a.flushDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	meta, _ := os.ReadFile(filepath.Join(dir, "covmeta."+a.hash))
	if !bytes.Equal(meta, fake.meta) {
		t.Fatalf("flushed meta: %d bytes, want the %d of the meta-data", len(meta), len(fake.meta))
	}
	counters, _ := os.ReadFile(filepath.Join(dir, name))
	if !bytes.Equal(counters, []byte{0x00, 0x63, 0x77, 0x6d, 2}) || !strings.HasPrefix(name, "covcounters."+a.hash+".42.") {
		t.Fatalf("flushed counters %s: %v", name, counters)
	}
	// A second flush finds the meta file and writes counters only.
	calls := fake.metaCalls
	if _, err := a.flushDir(dir); err != nil {
		t.Fatal(err)
	}
	if fake.metaCalls != calls {
		t.Fatal("the second flush wrote the meta again")
	}
}
