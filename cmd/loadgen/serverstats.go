package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// serverSample is a server's counters at one moment: the CPU time it has
// used, and for a node the heap allocations it has made.
type serverSample struct {
	cpuSeconds float64
	mallocs    float64 // -1: not known
}

// sampler reads a server's counters.
type sampler func(ctx context.Context) (serverSample, error)

// nodeSampler reads a node's /metrics (process_cpu_seconds_total and
// go_memstats_mallocs_total).
func nodeSampler(baseURL string) sampler {
	client := &http.Client{Timeout: 5 * time.Second}
	return func(ctx context.Context) (serverSample, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/metrics", nil)
		if err != nil {
			return serverSample{}, err
		}
		res, err := client.Do(req)
		if err != nil {
			return serverSample{}, err
		}
		defer res.Body.Close()
		if res.StatusCode != http.StatusOK {
			return serverSample{}, fmt.Errorf("GET /metrics: HTTP %d", res.StatusCode)
		}
		s := serverSample{cpuSeconds: -1, mallocs: -1}
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			name, value, ok := strings.Cut(sc.Text(), " ")
			if !ok {
				continue
			}
			switch name {
			case "process_cpu_seconds_total":
				s.cpuSeconds, _ = strconv.ParseFloat(value, 64)
			case "go_memstats_mallocs_total":
				s.mallocs, _ = strconv.ParseFloat(value, 64)
			}
		}
		if s.cpuSeconds < 0 {
			return s, fmt.Errorf("GET /metrics: no process_cpu_seconds_total")
		}
		return s, sc.Err()
	}
}

// redisSampler reads Redis's INFO cpu (used_cpu_user + used_cpu_sys).
func redisSampler(addr string) sampler {
	return func(ctx context.Context) (serverSample, error) {
		c := redis.NewClient(&redis.Options{Addr: addr, DisableIdentity: true})
		defer c.Close()
		info, err := c.Info(ctx, "cpu").Result()
		if err != nil {
			return serverSample{}, err
		}
		s := serverSample{mallocs: -1}
		for _, line := range strings.Split(info, "\n") {
			name, value, _ := strings.Cut(strings.TrimSpace(line), ":")
			if name == "used_cpu_user" || name == "used_cpu_sys" {
				v, _ := strconv.ParseFloat(value, 64)
				s.cpuSeconds += v
			}
		}
		return s, nil
	}
}

// withServerCost runs a cell and adds the server's CPU time and
// allocations per successful call over its measured part: one sample
// when the warm-up ends, one after the cell.
func withServerCost(ctx context.Context, s sampler, warmup time.Duration, run func() (result, error)) (result, error) {
	before := make(chan serverSample, 1)
	timer := time.AfterFunc(warmup, func() {
		b, err := s(ctx)
		if err != nil {
			b.cpuSeconds = -1
		}
		before <- b
	})
	r, err := run()
	if err != nil {
		timer.Stop()
		return r, err
	}
	b := <-before
	a, err := s(ctx)
	if err != nil || b.cpuSeconds < 0 || r.Ops == 0 {
		return r, nil // the cost is left out, the cell stands
	}
	r.ServerCPUus = (a.cpuSeconds - b.cpuSeconds) * 1e6 / float64(r.Ops)
	if a.mallocs >= 0 && b.mallocs >= 0 {
		r.ServerAllocs = (a.mallocs - b.mallocs) / float64(r.Ops)
	}
	return r, nil
}
