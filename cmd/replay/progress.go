package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/distcache/distcache/internal/trace"
)

// progressEvery is how often progress is reported on a terminal.
const progressEvery = 5 * time.Second

// progressChunk is how many requests a reader counts before it adds them
// to the shared total and looks at its context.
const progressChunk = 1 << 14

// progress counts the requests replayed and the cells done, for the
// progress lines. It is safe for concurrent use.
type progress struct {
	cells, requests int64 // totals
	cellsDone, done atomic.Int64
	start           time.Time
}

func newProgress(cells int, requests int64) *progress {
	return &progress{cells: int64(cells), requests: requests, start: time.Now()}
}

func (p *progress) cellDone() { p.cellsDone.Add(1) }

// reader returns a reader of keys that counts into p and ends early,
// returning ctx's error, once ctx is done.
func (p *progress) reader(ctx context.Context, keys []uint64) trace.Reader {
	return &countingReader{Reader: trace.Slice(keys), p: p, ctx: ctx}
}

// line describes how far the replay is.
func (p *progress) line() string {
	return fmt.Sprintf("replay: %d/%d cells, %.0f%% of %d requests, %s",
		p.cellsDone.Load(), p.cells, 100*float64(p.done.Load())/float64(max(p.requests, 1)), p.requests,
		time.Since(p.start).Round(time.Second))
}

// report writes a progress line to w every interval until stop is called;
// an interval of 0 reports nothing.
func (p *progress) report(w io.Writer, every time.Duration) (stop func()) {
	if every <= 0 {
		return func() {}
	}
	quit, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				fmt.Fprintln(w, p.line())
			}
		}
	}()
	return func() { close(quit); <-finished }
}

// countingReader is a trace.Reader that counts into a progress.
type countingReader struct {
	trace.Reader
	p     *progress
	ctx   context.Context
	n     int64
	ended bool
}

func (r *countingReader) Next() (uint64, bool) {
	if r.n++; r.n == progressChunk {
		r.p.done.Add(r.n)
		r.n = 0
		if r.ctx.Err() != nil {
			r.ended = true
		}
	}
	if r.ended {
		return 0, false
	}
	k, ok := r.Reader.Next()
	if !ok {
		r.p.done.Add(r.n)
		r.n = 0
	}
	return k, ok
}

func (r *countingReader) Err() error {
	if r.ended {
		return r.ctx.Err()
	}
	return r.Reader.Err()
}

// progressInterval returns how often to report progress to stderr: every
// progressEvery on a terminal, never when quiet or when stderr is a file,
// a pipe or a buffer (so logs and tests get no progress lines).
func progressInterval(stderr io.Writer, quiet bool) time.Duration {
	f, ok := stderr.(*os.File)
	if quiet || !ok {
		return 0
	}
	st, err := f.Stat()
	if err != nil || st.Mode()&os.ModeCharDevice == 0 {
		return 0
	}
	return progressEvery
}
