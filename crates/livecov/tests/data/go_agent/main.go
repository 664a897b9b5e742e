// A small HTTP service for crates/livecov/tests/go_agent.rs: the Go agent is copied in
// beside it and built with `go build -cover`.
//
// FIXTURE_ADDR: where to listen (default 127.0.0.1:0); the address goes to stdout.
// FIXTURE_SIGNALS=handle (default): its own SIGTERM/SIGINT handler, which prints the
// shutdown line, waits a little to count any further signal, and returns from main.
// FIXTURE_SIGNALS=none: no handler at all, so a signal's default action applies.
package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func work(n int) int {
	total := 0
	for i := 0; i < n; i++ {
		if i%3 == 0 {
			total += i
		} else {
			total--
		}
	}
	return total
}

func handleWork(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.URL.Query().Get("n"))
	if err != nil {
		http.Error(w, "want ?n=<number>", http.StatusBadRequest)
		return
	}
	fmt.Fprintf(w, "%d\n", work(n))
}

func neverCalled() string {
	return "this function stays uncovered"
}

func main() {
	addr := os.Getenv("FIXTURE_ADDR")
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fixture: listen:", err)
		os.Exit(1)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/work", handleWork)
	srv := &http.Server{Handler: mux}
	if os.Getenv("FIXTURE_SIGNALS") == "none" {
		fmt.Printf("fixture: listening on %s\n", ln.Addr())
		_ = srv.Serve(ln)
		return
	}
	// The handler is in place before the line that tells the test it may signal.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, os.Interrupt)
	fmt.Printf("fixture: listening on %s\n", ln.Addr())
	go func() { _ = srv.Serve(ln) }()
	first := <-sigs
	fmt.Printf("fixture: shutdown hook ran (%v)\n", first)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
	// Count further signals for a while: the agent must not send a second one.
	received := 1
	deadline := time.After(1500 * time.Millisecond)
	for waiting := true; waiting; {
		select {
		case <-sigs:
			received++
		case <-deadline:
			waiting = false
		}
	}
	fmt.Printf("fixture: signals received %d\n", received)
}
