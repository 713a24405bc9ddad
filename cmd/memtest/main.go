// Command memtest measures what an entry costs in memory beyond its key
// and value: it fills N entries (default 1,000,000 of 16-byte keys and
// 100-byte values) into a distcache node it starts, and into a
// redis-server it starts, and prints each one's RSS growth and, for the
// node, its Go heap growth (after a collection) and the bytes its group
// accounts for, per entry, side by side.
//
//	go run ./cmd/memtest                 # node and Redis, 1,000,000 entries
//	go run ./cmd/memtest -inproc         # a cache.Group in this process instead of a node
//	go run ./cmd/memtest -n 200000 -value 8 -redis off
//	go run ./cmd/memtest -gomemlimit 300MiB -redis off   # RSS with the Go heap bounded
//
// The node runs with its native LRU (an empty plugins directory and
// --builtin-plugins=false), so the figures are the store's and the native
// policy's; a WebAssembly policy keeps its state in its own guest memory.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
)

type options struct {
	n        int
	keyLen   int
	valLen   int
	callers  int
	conns    int
	bin      string
	redis    string
	inproc   bool
	node     bool
	nodeEnv  []string
	capacity string
}

func main() {
	var o options
	var gogc, memLimit string
	flag.IntVar(&o.n, "n", 1_000_000, "entries to fill")
	flag.IntVar(&o.keyLen, "key", 16, "key length in bytes (at least 12)")
	flag.IntVar(&o.valLen, "value", 100, "value length in bytes")
	flag.IntVar(&o.callers, "callers", 64, "concurrent Set callers filling the node")
	flag.IntVar(&o.conns, "conns", 4, "HTTP/2 connections to the node")
	flag.StringVar(&o.bin, "bin", "", "node binary; empty builds ./server")
	flag.StringVar(&o.redis, "redis", "auto", "auto starts redis-server when installed; off skips Redis")
	flag.BoolVar(&o.inproc, "inproc", false, "measure a cache.Group in this process instead of starting a node")
	flag.BoolVar(&o.node, "node", true, "measure a node (or, with -inproc, a group in this process)")
	flag.StringVar(&gogc, "gogc", "", "GOGC of the node it starts (empty: inherited)")
	flag.StringVar(&memLimit, "gomemlimit", "", "GOMEMLIMIT of the node it starts, e.g. 400MiB (empty: inherited)")
	flag.StringVar(&o.capacity, "capacity", "8GiB", "the node's group capacity")
	flag.Parse()
	if o.keyLen < 12 {
		fmt.Fprintln(os.Stderr, "memtest: -key must be at least 12")
		os.Exit(2)
	}
	if gogc != "" {
		o.nodeEnv = append(o.nodeEnv, "GOGC="+gogc)
	}
	if memLimit != "" {
		o.nodeEnv = append(o.nodeEnv, "GOMEMLIMIT="+memLimit)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, &o); err != nil {
		fmt.Fprintln(os.Stderr, "memtest:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o *options) error {
	dir, err := os.MkdirTemp("", "memtest-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var rows []result
	if o.node {
		var r result
		if o.inproc {
			r, err = measureInProcess(o)
		} else {
			r, err = measureNode(ctx, o, dir)
		}
		if err != nil {
			return err
		}
		rows = append(rows, r)
	}
	if o.redis != "off" {
		if _, err := exec.LookPath("redis-server"); err != nil {
			fmt.Fprintln(os.Stderr, "memtest: redis-server not found; apt-get install -y redis-server to compare with Redis")
		} else {
			r, err := measureRedis(ctx, o, dir)
			if err != nil {
				return err
			}
			rows = append(rows, r)
		}
	}
	report(os.Stdout, o, rows)
	return nil
}
