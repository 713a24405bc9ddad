package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
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
	return &countingReader{keys: keys, p: p, ctx: ctx}
}

// sizedReader is reader with sizes.
func (p *progress) sizedReader(ctx context.Context, keys []uint64, sizes []uint32) trace.Sized {
	return sizedCountingReader{&countingReader{keys: keys, sizes: sizes, p: p, ctx: ctx}}
}

// line describes how far the replay is.
func (p *progress) line() string {
	return fmt.Sprintf("replay: %d/%d cells, %.0f%% of %s requests, %s",
		p.cellsDone.Load(), p.cells, 100*float64(p.done.Load())/float64(max(p.requests, 1)), commas(p.requests),
		time.Since(p.start).Round(time.Second))
}

// report writes a progress line to w every interval until stop is called;
// an interval of 0 reports nothing.
func (p *progress) report(w io.Writer, every time.Duration) (stop func()) {
	return ticker(w, every, p.line)
}

// ticker writes line() to w every interval until stop is called; an
// interval of 0 writes nothing. stop may be called more than once.
func ticker(w io.Writer, every time.Duration, line func() string) (stop func()) {
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
				fmt.Fprintln(w, line())
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(quit); <-finished }) }
}

// countingReader reads keys (and sizes) and counts into a progress.
type countingReader struct {
	keys  []uint64
	sizes []uint32
	i     int
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
	if r.i == len(r.keys) {
		r.p.done.Add(r.n - 1)
		r.n = 0
		return 0, false
	}
	r.i++
	return r.keys[r.i-1], true
}

func (r *countingReader) Err() error {
	if r.ended {
		return r.ctx.Err()
	}
	return nil
}

type sizedCountingReader struct{ *countingReader }

func (r sizedCountingReader) Size() int64 { return int64(r.sizes[r.i-1]) }

// progressInterval returns how often to report progress to stderr: never
// when quiet, every force if it is set (-progress), else every
// progressEvery on a terminal and never when stderr is a file, a pipe or
// a buffer (so logs and tests get no progress lines).
func progressInterval(stderr io.Writer, quiet bool, force time.Duration) time.Duration {
	if quiet {
		return 0
	}
	if force > 0 {
		return force
	}
	f, ok := stderr.(*os.File)
	if !ok {
		return 0
	}
	st, err := f.Stat()
	if err != nil || st.Mode()&os.ModeCharDevice == 0 {
		return 0
	}
	return progressEvery
}

// commas writes n with thousands separators.
func commas(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + commas(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
