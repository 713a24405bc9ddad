package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/distcache/distcache/internal/trace"
)

// options are the command's parsed flags and arguments.
type options struct {
	tracePath  string
	zipf       int
	keys       uint64
	s          float64
	seed       uint64
	loopN      int    // -loop N,LEN
	loopLen    uint64 // 0 if -loop is not set
	capacities []int
	policies   []string      // .wasm paths
	quiet      bool          // -quiet: no progress lines
	progress   time.Duration // how often to report progress; 0: never
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: replay [flags] POLICY.wasm...")
		fs.PrintDefaults()
	}
	fs.StringVar(&o.tracePath, "trace", "", "trace `file`: ARC or LIRS format, plain or gzipped")
	fs.IntVar(&o.zipf, "zipf", 0, "replay `N` synthetic Zipf requests instead of a file")
	fs.Uint64Var(&o.keys, "keys", 100_000, "keys of the -zipf trace")
	fs.Float64Var(&o.s, "s", 0.99, "exponent of the -zipf trace (>= 0)")
	fs.Uint64Var(&o.seed, "seed", 1, "random seed of the -zipf trace")
	loop := fs.String("loop", "", "replay `N,LEN`: N requests cycling through LEN keys")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress lines on stderr (they are shown only on a terminal)")
	caps := fs.String("capacity", "100,1000,5000", "cache capacities in entries, comma-separated")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	o.policies = fs.Args()
	sources := 0
	for _, set := range []bool{o.tracePath != "", o.zipf != 0, *loop != ""} {
		if set {
			sources++
		}
	}
	if sources != 1 {
		return o, errors.New("give exactly one of -trace, -zipf and -loop")
	}
	if o.zipf < 0 {
		return o, errors.New("-zipf: want a number of requests >= 1")
	}
	var err error
	if *loop != "" {
		if o.loopN, o.loopLen, err = parseLoop(*loop); err != nil {
			return o, err
		}
	}
	o.capacities, err = parseCapacities(*caps)
	return o, err
}

func parseCapacities(s string) ([]int, error) {
	var caps []int
	for f := range strings.SplitSeq(s, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || c <= 0 {
			return nil, fmt.Errorf("-capacity %q: want entry counts >= 1, comma-separated", s)
		}
		caps = append(caps, c)
	}
	return caps, nil
}

// parseLoop parses "N,LEN".
func parseLoop(s string) (n int, length uint64, err error) {
	ns, ls, ok := strings.Cut(s, ",")
	n, err1 := strconv.Atoi(strings.TrimSpace(ns))
	length, err2 := strconv.ParseUint(strings.TrimSpace(ls), 10, 64)
	if !ok || err1 != nil || err2 != nil || n <= 0 || length == 0 {
		return 0, 0, fmt.Errorf("-loop %q: want N,LEN, both >= 1", s)
	}
	return n, length, nil
}

// loadTrace reads the whole trace the options name, since every policy and
// capacity replays it, and describes it.
func loadTrace(o options) (keys []uint64, desc string, err error) {
	switch {
	case o.tracePath != "":
		r, c, err := trace.Open(o.tracePath)
		if err != nil {
			return nil, "", err
		}
		defer c.Close()
		keys, err = trace.Collect(r)
		return keys, o.tracePath, err
	case o.zipf > 0:
		desc = fmt.Sprintf("zipf (%d keys, s=%g, seed %d)", o.keys, o.s, o.seed)
		keys, err = trace.Collect(trace.Zipf(o.zipf, o.keys, o.s, o.seed))
		return keys, desc, err
	default:
		keys, err = trace.Collect(trace.Loop(o.loopN, o.loopLen))
		return keys, fmt.Sprintf("loop over %d keys", o.loopLen), err
	}
}
