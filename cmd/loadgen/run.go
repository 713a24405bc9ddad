package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"
)

// preloadCallers is how many callers set the keys before the cells.
const preloadCallers = 16

// runAll preloads the keys into the node (and Redis, when redisAddr is
// set) and runs every cell: for each op and number of callers, Redis,
// then each protocol against the node. It writes one progress line per
// cell to progress.
func runAll(ctx context.Context, o *options, baseURL, redisAddr string, progress io.Writer) ([]row, error) {
	w := newWorkload(o.keys, o.value)
	nodes := make(map[string]target, len(o.protocols))
	for _, p := range o.protocols {
		var t target
		var err error
		if p == "resp" {
			// The node's Redis protocol, driven as Redis is, with a
			// connection per caller.
			t = newRedisTarget(o.respAddr, slices.Max(o.callers))
		} else {
			t, err = newTarget(baseURL, o.group, p)
		}
		if err != nil {
			return nil, err
		}
		defer t.Close()
		nodes[p] = t
	}
	cellCount := len(o.ops) * len(o.callers) * len(o.protocols)
	if redisAddr != "" {
		cellCount += len(o.ops) * len(o.callers)
	}
	fmt.Fprintf(progress, "loadgen: %d cells of %v (+%v warm-up): about %v\n",
		cellCount, o.duration, o.warmup, time.Duration(cellCount)*(o.duration+o.warmup))
	if err := w.preload(ctx, nodes[o.protocols[0]], preloadCallers); err != nil {
		return nil, fmt.Errorf("node %s group %q: %w", baseURL, o.group, err)
	}
	if redisAddr != "" {
		r := newRedisTarget(redisAddr, preloadCallers)
		err := w.preload(ctx, r, preloadCallers)
		r.Close()
		if err != nil {
			return nil, fmt.Errorf("redis %s: %w", redisAddr, err)
		}
	}
	var rows []row
	for _, op := range o.ops {
		for _, c := range o.callers {
			var redis *result
			if redisAddr != "" {
				r, err := runRedisCell(ctx, w, o, redisAddr, op, c, progress)
				if err != nil {
					return nil, err
				}
				redis = &r
			}
			for _, p := range o.protocols {
				d, err := withServerCost(ctx, nodeSampler(baseURL), o.warmup, func() (result, error) {
					return w.runCell(ctx, nodes[p], op, c, o.batch, o.warmup, o.duration)
				})
				if err != nil {
					return nil, err
				}
				d.Target, d.Protocol = "distcache", p
				logCell(progress, d)
				x := row{Distcache: d, Redis: redis}
				if redis != nil && redis.OpsPerSec > 0 {
					x.Ratio = d.OpsPerSec / redis.OpsPerSec
				}
				if redis != nil && redis.ServerCPUus > 0 && d.ServerCPUus > 0 {
					x.CPURatio = redis.ServerCPUus / d.ServerCPUus
				}
				rows = append(rows, x)
			}
		}
	}
	return rows, nil
}

// runRedisCell runs one cell against Redis with a pool of one connection
// per caller.
func runRedisCell(ctx context.Context, w *workload, o *options, addr, op string, callers int, progress io.Writer) (result, error) {
	t := newRedisTarget(addr, callers)
	defer t.Close()
	r, err := withServerCost(ctx, redisSampler(addr), o.warmup, func() (result, error) {
		return w.runCell(ctx, t, op, callers, o.batch, o.warmup, o.duration)
	})
	if err != nil {
		return result{}, err
	}
	r.Target, r.Protocol = "redis", "resp"
	logCell(progress, r)
	return r, nil
}

func logCell(w io.Writer, r result) {
	fmt.Fprintf(w, "loadgen: %-9s %-12s %-3s c=%-4d %9.0f ops/s  p50 %s  p99 %s  p99.9 %s  errors %d  server %.1fµs CPU, %.0f allocs per op\n",
		r.Target, r.Protocol, r.Op, r.Callers, r.OpsPerSec, micros(r.P50us), micros(r.P99us), micros(r.P999us), r.Errors,
		r.ServerCPUus, r.ServerAllocs)
	if r.FirstErr != "" {
		fmt.Fprintf(w, "loadgen:   first error: %s\n", r.FirstErr)
	}
}
