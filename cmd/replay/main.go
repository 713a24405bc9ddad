// Command replay measures the hit ratios of eviction policy plugins on a
// cache trace, next to native reference caches.
//
// Usage:
//
//	replay [flags] POLICY.wasm...
//
// The trace is one of -trace PATH (the ARC or LIRS text format, plain or
// gzipped), -zipf N (N synthetic Zipf requests over -keys keys with
// exponent -s) or -loop N,LEN (N requests cycling through LEN keys). For
// each -capacity (entries, comma-separated) it prints one table: a row per
// policy plugin, then the references: an exact LRU, hashicorp's ARC and
// otter. Every entry costs 1, so a policy's capacity is the entry count.
//
// The cells (each policy and reference at each capacity) run in parallel
// on GOMAXPROCS workers; the tables come out in the same order as with
// one. A module that is a loader, not a policy (as a plugins/*.wasm glob
// picks up), is skipped with a note on stderr. On a terminal, stderr gets
// a progress line every 5 seconds; -quiet turns it off.
//
// It exits 0 on success, 1 when a trace or a policy fails, and 2 on bad
// usage.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// run is the command with its arguments (without the program name); it
// writes the tables to stdout and errors to stderr and returns the exit
// code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "replay:", err)
		return 2
	}
	o.progress = progressInterval(stderr, o.quiet)
	if err := replay(ctx, o, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "replay:", err)
		return 1
	}
	return 0
}
