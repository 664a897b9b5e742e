// Serving mode for bench/live-collect.sh (issue 9), copied into the build directory next
// to go-ops' main.go, which the harness patches in two places (the listen address, and a
// call after the seeded self-traffic). go-ops alone is a workload runner: it serves on a
// random port, drives its own endpoints, and exits. With OPS_SERVE=1 it keeps serving
// after that traffic, on OPS_LISTEN (default 127.0.0.1:0), until it is signalled, so a
// coverage agent inside it can be collected live.
package main

import (
	"fmt"
	"os"
)

func opsListenAddr() string {
	if a := os.Getenv("OPS_LISTEN"); a != "" {
		return a
	}
	return "127.0.0.1:0"
}

// opsServe blocks forever in serving mode (the HTTP server keeps running in its
// goroutine); it prints the service's address first, for the harness.
func opsServe(base string, failures []string) {
	if os.Getenv("OPS_SERVE") != "1" {
		return
	}
	fmt.Printf("serving %s after %d self-traffic requests, %d failures\n", base, served.Load(), len(failures))
	os.Stdout.Sync()
	select {}
}
