// Command loadgen measures a distcache node under a closed-loop Get/Set
// load, in each wire protocol and at each number of concurrent callers,
// beside Redis under the same load when redis-server is installed:
//
//	go tool task bench:redis       # what the README's table came from
//	go run ./cmd/loadgen -start -redis auto -pin -d 10s
//	go run ./cmd/loadgen -addr http://127.0.0.1:8080 -group default -redis off
//
// For each operation (-ops), callers (-c) and protocol (-protocols) it
// runs one cell: -warmup of unmeasured load, then -d of measured load by
// that many goroutines, each calling again as soon as its last call
// returns, on keys drawn uniformly from -keys preloaded keys. It reports
// ops/s and the p50, p99 and p99.9 latencies (HdrHistogram, 1 µs to 10 s,
// 3 significant digits) and the errors. Redis runs the same cells with
// GET and SET, and the ratio column is distcache's ops/s over Redis's.
//
// -start runs a node as a child process with a group without a loader, so
// that Set is a cache write, as in Redis; -redis auto starts redis-server
// without persistence. -pin puts both servers on one CPU and loadgen on
// another, so each server has one core and the load does not steal it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"
)

func main() {
	// The load generator allocates on every call and has one CPU when
	// pinned: collecting a quarter as often leaves more of it for calls,
	// for Redis's client and distcache's alike. The servers it starts keep
	// their own settings (GOGC in the environment applies to them).
	debug.SetGCPercent(400)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

// run parses args, runs every cell and prints the report on stdout;
// progress goes to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	rep := &report{
		Target: o.addr, CPUs: runtime.NumCPU(), Keys: o.keys, Value: o.value,
		Seconds: o.duration.Seconds(), GoVersion: runtime.Version(),
		Pinning: pinning{ServerCPU: -1, LoadCPU: -1},
	}
	if o.pin {
		rep.Pinning = pin()
	}
	dir, err := os.MkdirTemp("", "distcache-loadgen-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	baseURL := o.addr
	if o.start {
		node, url, respAddr, err := startNode(ctx, o, dir, rep.Pinning.ServerCPU)
		if err != nil {
			return err
		}
		defer node.Stop()
		baseURL, o.respAddr, rep.Target = url, respAddr, "started"
	}
	redisAddr, stopRedis, err := redisFor(ctx, o, dir, rep)
	if err != nil {
		return err
	}
	defer stopRedis()
	rep.Rows, err = runAll(ctx, o, baseURL, redisAddr, stderr)
	if err != nil {
		return err
	}
	if o.json {
		return rep.writeJSON(stdout)
	}
	return rep.writeTable(stdout)
}

// redisFor returns the address of the Redis to compare with, starting one
// for -redis auto when redis-server is installed; "" means no Redis, with
// the reason in rep.Note. stop stops the Redis it started, if any.
func redisFor(ctx context.Context, o *options, dir string, rep *report) (addr string, stop func(), err error) {
	nothing := func() {}
	switch o.redis {
	case "off":
		rep.Redis = "off"
		return "", nothing, nil
	case "auto":
		if _, err := exec.LookPath("redis-server"); err != nil {
			rep.Redis, rep.Note = "off", errNoRedis.Error()
			return "", nothing, nil
		}
		c, addr, err := startRedis(ctx, dir, rep.Pinning.ServerCPU)
		if err != nil {
			return "", nil, err
		}
		rep.Redis = "started"
		return addr, c.Stop, nil
	}
	rep.Redis = o.redis
	return o.redis, nothing, nil
}
