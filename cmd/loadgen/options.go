package main

import (
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Bounds that keep one run finite whatever the flags say.
const (
	maxCellDuration = 5 * time.Minute
	maxCallers      = 4096
	maxKeys         = 10_000_000
	maxValueBytes   = 1 << 20
	// maxOpsPerCell stops a cell's loop even if its clock never runs out.
	maxOpsPerCell = 1 << 40
)

// options is a parsed and validated command line.
type options struct {
	addr      string        // -addr: a running node, such as http://127.0.0.1:8080
	start     bool          // -start: run a node as a child process instead
	bin       string        // -bin: the node binary for -start; empty builds ./server
	group     string        // -group: the cache group to load
	protocols []string      // -protocols
	callers   []int         // -c
	duration  time.Duration // -d: measured time of one cell
	warmup    time.Duration // -warmup: unmeasured time before each cell
	keys      int           // -keys
	value     int           // -value: bytes per value
	ops       []string      // -ops
	batch     int           // -batch: keys per batched call
	redis     string        // -redis: auto, off or host:port
	respAddr  string        // -resp-addr: the node's RESP listener
	pin       bool          // -pin
	json      bool          // -json
}

// knownProtocols are the -protocols values, in the order cells run.
// resp is the Redis protocol on the node's --resp-addr, driven by the
// go-redis client exactly as Redis is.
var knownProtocols = []string{"grpc-go", "grpc", "connect", "connect-json", "grpcweb", "resp"}

// knownOps are the -ops values: single-key calls, then the batched ones
// (see batchOps).
var knownOps = []string{"get", "set", "getmany", "setmany", "pipeline"}

// defaultOps are the ops run without -ops.
var defaultOps = []string{"get", "set"}

// batchOps are the ops whose every call carries -batch keys: getmany and
// setmany (one GetMany or SetMany; on Redis a go-redis pipeline of as many
// GETs or SETs) and pipeline (that many Gets sent on the caller's own
// Pipeline stream before their answers are read; on Redis the same
// go-redis pipeline of GETs), so a cell's ops/s counts keys, as
// redis-benchmark -P counts requests.
var batchOps = map[string]bool{"getmany": true, "setmany": true, "pipeline": true}

// maxBatch bounds -batch: the node's default --max-batch-keys.
const maxBatch = 1000

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	var protocols, callers, ops string
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", "http://127.0.0.1:8080", "base URL of a running node (ignored with -start)")
	fs.BoolVar(&o.start, "start", false, "start a node as a child process on a free loopback port, and its Redis protocol on another, with a temporary database and a group \"bench\" (256MiB, no loader), and stop it at the end")
	fs.StringVar(&o.bin, "bin", "", "with -start: the node binary; empty builds ./server with go build")
	fs.StringVar(&o.group, "group", "bench", "cache group to load (with -addr, one that accepts Set, such as default)")
	fs.StringVar(&protocols, "protocols", "grpc-go,grpc,connect,grpcweb", "comma-separated protocols (grpc-go is the official grpc-go client, grpc connect-go's gRPC client): "+strings.Join(knownProtocols, ", "))
	fs.StringVar(&callers, "c", "16,64", "comma-separated numbers of concurrent callers (closed loop)")
	fs.DurationVar(&o.duration, "d", 10*time.Second, "measured duration of each cell (at most 5m)")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured load before each cell")
	fs.IntVar(&o.keys, "keys", 10_000, "number of distinct keys, all preloaded")
	fs.IntVar(&o.value, "value", 100, "value size in bytes")
	fs.StringVar(&ops, "ops", strings.Join(defaultOps, ","), "comma-separated operations: "+strings.Join(knownOps, ", "))
	fs.IntVar(&o.batch, "batch", 16, "keys per call of getmany and setmany, and calls in flight per pipeline (1 to 1000)")
	fs.StringVar(&o.respAddr, "resp-addr", "", "with -addr and -protocols resp: host:port of the node's Redis protocol listener (its --resp-addr), whose --resp-default-group must be -group")
	fs.StringVar(&o.redis, "redis", "auto", "auto (start redis-server if it is on PATH), off, or host:port of a running Redis")
	fs.BoolVar(&o.pin, "pin", false, "with taskset and 2+ CPUs: pin started servers to one CPU and this process to another")
	fs.BoolVar(&o.json, "json", false, "print the results as JSON instead of a table")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var err error
	if o.protocols, err = parseChoices("-protocols", protocols, knownProtocols); err != nil {
		return nil, err
	}
	if o.ops, err = parseChoices("-ops", ops, knownOps); err != nil {
		return nil, err
	}
	if o.callers, err = parseInts("-c", callers, 1, maxCallers); err != nil {
		return nil, err
	}
	return o, o.validate()
}

func (o *options) validate() error {
	switch {
	case o.duration <= 0 || o.duration > maxCellDuration:
		return fmt.Errorf("-d %v must be above 0 and at most %v", o.duration, maxCellDuration)
	case o.warmup < 0 || o.warmup > maxCellDuration:
		return fmt.Errorf("-warmup %v must be between 0 and %v", o.warmup, maxCellDuration)
	case o.keys < 1 || o.keys > maxKeys:
		return fmt.Errorf("-keys %d must be between 1 and %d", o.keys, maxKeys)
	case o.value < 1 || o.value > maxValueBytes:
		return fmt.Errorf("-value %d must be between 1 and %d", o.value, maxValueBytes)
	case o.batch < 1 || o.batch > maxBatch:
		return fmt.Errorf("-batch %d must be between 1 and %d", o.batch, maxBatch)
	case o.group == "":
		return fmt.Errorf("-group must not be empty")
	case o.redis == "":
		return fmt.Errorf("-redis must be auto, off or host:port")
	case slices.Contains(o.protocols, "resp") && !o.start && o.respAddr == "":
		return fmt.Errorf("-protocols resp needs -resp-addr (the node's --resp-addr) or -start")
	}
	return nil
}

// parseChoices splits a comma-separated flag and checks every item is
// one of known, dropping duplicates.
func parseChoices(name, s string, known []string) ([]string, error) {
	var out []string
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if !slices.Contains(known, item) {
			return nil, fmt.Errorf("%s: %q is not one of %s", name, item, strings.Join(known, ", "))
		}
		if !slices.Contains(out, item) {
			out = append(out, item)
		}
	}
	return out, nil
}

// parseInts splits a comma-separated flag of integers in [lo, hi].
func parseInts(name, s string, lo, hi int) ([]int, error) {
	var out []int
	for _, item := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(item))
		if err != nil || n < lo || n > hi {
			return nil, fmt.Errorf("%s: %q is not a number between %d and %d", name, item, lo, hi)
		}
		out = append(out, n)
	}
	return out, nil
}
