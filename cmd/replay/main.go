// Command replay measures the hit ratios of eviction policy plugins on
// cache traces, next to native reference caches and Belady's OPT.
//
// Usage:
//
//	replay [flags] POLICY.wasm...
//
// The traces are -trace FILE (repeat it for several), -zipf N (N synthetic
// Zipf requests over -keys keys with exponent -s) and -loop N,LEN (N
// requests cycling through LEN keys), in any number and order. A file is
// plain or compressed with gzip, xz or zstd, in one of the formats of
// -format: arc, lirs, binary (8-byte big-endian keys: corda, scarab),
// binary-le, oracle (libCacheSim's oracleGeneral) or csv (a key and an
// optional size per line); auto, the default, detects it by the file name
// and then the content, and says so when it cannot.
//
// A trace that carries object sizes (oracle, csv with a size column) is
// replayed by size unless -sizes=false: each object costs its size and
// capacities are in bytes. Otherwise every entry costs 1 and capacities
// count entries. -capacity takes entries (1000), bytes (64MiB, 1GB) and
// shares of the trace's distinct keys or, sized, distinct bytes (5%).
//
// For each trace and capacity there is a row per policy plugin, then the
// references: an exact LRU, hashicorp's ARC (not with sizes: it counts
// entries) and otter, then Belady's OPT ("opt (belady)", the most hits any
// cache of that many entries can have; with sizes the furthest-next-use
// heuristic, "belady-size (heuristic)", which is no bound). -o picks the
// output: table (a table per capacity, printed as soon as it is done),
// csv or json (a record per trace, capacity and policy), or markdown (a
// row per trace and capacity, a column per policy, and the best given
// policy's lead over the better of ARC and otter). -plot FILE.svg (or
// .png) draws hit ratio against capacity, a curve per policy, one file per
// trace (FILE-TRACE.svg) with several.
//
// Every trace is read into memory first, decompressed on one goroutine
// and parsed on GOMAXPROCS. The cells (each policy and reference at each
// capacity of each trace) then run in parallel on GOMAXPROCS workers,
// the plugins first; the output comes out in the same order as with one.
// A module that is a loader, not a policy (as a plugins/*.wasm glob picks
// up), is skipped with a note on stderr. On a terminal, or with -progress,
// stderr gets a progress line every 5 seconds, loading included; -quiet
// turns it off.
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
// writes the results to stdout and errors to stderr and returns the exit
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
	o.progress = progressInterval(stderr, o.quiet, o.forceProgress)
	if err := replay(ctx, o, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "replay:", err)
		return 1
	}
	return 0
}
