package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram range: 1 µs to 10 s at 3 significant digits.
const (
	histMin     = 1
	histMax     = 10_000_000
	histSigFigs = 3
)

// result is what one cell measured: one operation against one target in
// one protocol with a fixed number of closed-loop callers.
type result struct {
	Target    string  `json:"target"`   // "distcache" or "redis"
	Protocol  string  `json:"protocol"` // a knownProtocols value, or "resp" for Redis
	Op        string  `json:"op"`
	Callers   int     `json:"callers"`
	Seconds   float64 `json:"seconds"`     // measured time
	Batch     int     `json:"batch"`       // keys per call: 1, or -batch for the batched ops
	Ops       int64   `json:"ops"`         // keys of successful calls in the measured time
	Errors    int64   `json:"errors"`      // failed calls in the measured time
	OpsPerSec float64 `json:"ops_per_sec"` // keys per second
	P50us     int64   `json:"p50_us"`
	P99us     int64   `json:"p99_us"`
	P999us    int64   `json:"p999_us"`
	MaxUs     int64   `json:"max_us"`
	FirstErr  string  `json:"first_error,omitempty"`
	// ServerCPUus is the server's CPU time per successful call, in µs,
	// and ServerAllocs its heap allocations per call (a node's only);
	// zero when they could not be read.
	ServerCPUus  float64 `json:"server_cpu_us_per_op,omitempty"`
	ServerAllocs float64 `json:"server_allocs_per_op,omitempty"`
}

// workload is the shared key set and value of a run.
type workload struct {
	keys  []string
	value []byte
}

func newWorkload(keys, valueBytes int) *workload {
	w := &workload{keys: make([]string, keys), value: make([]byte, valueBytes)}
	for i := range w.keys {
		w.keys[i] = fmt.Sprintf("loadgen:%08d", i)
	}
	for i := range w.value {
		w.value[i] = 'a' + byte(i%26)
	}
	return w
}

// preload sets every key once with parallel callers, so that every Get
// of a cell hits.
func (w *workload) preload(ctx context.Context, t target, callers int) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for c := range callers {
		wg.Go(func() {
			for i := c; i < len(w.keys); i += callers {
				if err := t.Set(ctx, w.keys[i], w.value); err != nil {
					mu.Lock()
					firstErr = either(firstErr, fmt.Errorf("preloading %q: %w", w.keys[i], err))
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	return firstErr
}

// either returns a unless it is nil, else b.
func either(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// callTimeout bounds one call of a cell.
const callTimeout = 10 * time.Second

// caller is one closed-loop caller's tally; only its goroutine writes it.
type caller struct {
	hist     *hdrhistogram.Histogram
	ops      int64
	errors   int64
	firstErr error
}

// runCell runs op against t with callers goroutines in a closed loop: an
// unmeasured warm-up, then measure. Each goroutine issues its next call as
// soon as the last one returns, on keys drawn uniformly at random: one
// key for get and set, batch keys for the batched ops (see batchOps),
// whose ops count keys and whose latencies are of whole batches.
func (w *workload) runCell(ctx context.Context, t target, op string, callers, batch int, warmup, measure time.Duration) (result, error) {
	if !batchOps[op] {
		batch = 1
	}
	begin := time.Now()
	from, until := begin.Add(warmup), begin.Add(warmup+measure)
	ctx, cancel := context.WithDeadline(ctx, until)
	defer cancel()
	tallies := make([]*caller, callers)
	var wg sync.WaitGroup
	for i := range tallies {
		c := &caller{hist: hdrhistogram.New(histMin, histMax, histSigFigs)}
		tallies[i] = c
		rng := rand.New(rand.NewPCG(uint64(i), uint64(begin.UnixNano())))
		call, done, err := w.callFor(ctx, t, op)
		if err != nil {
			cancel()
			wg.Wait()
			return result{}, err
		}
		wg.Go(func() {
			defer done()
			c.loop(ctx, call, w.keys, batch, rng, from, until)
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return result{}, err
	}
	r := merge(tallies, op, callers, measure)
	r.Batch = batch
	return r, nil
}

// callFor returns one caller's call of op on t, and what to run when the
// caller is done with it.
func (w *workload) callFor(ctx context.Context, t target, op string) (func(context.Context, []string) error, func(), error) {
	switch op {
	case "get":
		return func(ctx context.Context, keys []string) error { return t.Get(ctx, keys[0]) }, func() {}, nil
	case "set":
		return func(ctx context.Context, keys []string) error { return t.Set(ctx, keys[0], w.value) }, func() {}, nil
	}
	b, err := t.Batcher(ctx, op, w.value)
	if err != nil {
		return nil, nil, err
	}
	return b.Do, b.Close, nil
}

// loop calls until the deadline, counting only calls that start at or
// after from; a call cut short by the deadline is not counted at all.
func (c *caller) loop(ctx context.Context, call func(context.Context, []string) error, keys []string, batch int, rng *rand.Rand, from, until time.Time) {
	picked := make([]string, batch)
	for n := int64(0); n < maxOpsPerCell; n++ {
		for i := range picked {
			picked[i] = keys[rng.IntN(len(keys))]
		}
		start := time.Now()
		if !start.Before(until) {
			return
		}
		// The call does not carry the cell's deadline: a server that
		// learns it (gRPC's timeout header) may answer deadline_exceeded a
		// moment before the deadline passes here. A call still running
		// at the deadline is not counted.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
		err := call(cctx, picked)
		cancel()
		if ctx.Err() != nil || !time.Now().Before(until) {
			return
		}
		if start.Before(from) {
			continue
		}
		if err != nil {
			c.errors++
			c.firstErr = either(c.firstErr, err)
			continue
		}
		us := time.Since(start).Microseconds()
		c.hist.RecordValue(min(max(us, histMin), histMax))
		c.ops += int64(batch)
	}
}

// merge sums the callers' tallies into one result.
func merge(tallies []*caller, op string, callers int, measure time.Duration) result {
	all := hdrhistogram.New(histMin, histMax, histSigFigs)
	r := result{Op: op, Callers: callers, Seconds: measure.Seconds()}
	for _, c := range tallies {
		all.Merge(c.hist)
		r.Ops += c.ops
		r.Errors += c.errors
		if c.firstErr != nil && r.FirstErr == "" {
			r.FirstErr = c.firstErr.Error()
		}
	}
	r.OpsPerSec = float64(r.Ops) / measure.Seconds()
	r.P50us = all.ValueAtQuantile(50)
	r.P99us = all.ValueAtQuantile(99)
	r.P999us = all.ValueAtQuantile(99.9)
	r.MaxUs = all.Max()
	return r
}
