package cache

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// laggingSource is a write-through source that applies each write at once
// but answers its caller late, by a delay that shrinks with each write, so
// that callers of concurrent writes return in the reverse of the order
// the source applied them in (as a group commit's callers may).
type laggingSource struct {
	mapSource
	mu    sync.Mutex
	delay time.Duration
}

func (s *laggingSource) Write(ctx context.Context, key string, value []byte, exp time.Time) error {
	s.mu.Lock()
	err := s.mapSource.Write(ctx, key, value, exp)
	d := s.delay
	s.delay = max(s.delay-time.Millisecond, 0)
	s.mu.Unlock()
	// The write's latency, not synchronization: each writer takes 1ms
	// less than the one before it, so they return in the opposite order
	// from the one their writes landed in, the order that exposed the bug.
	time.Sleep(d)
	return err
}

// TestWriteThroughOrder: after concurrent Sets and Deletes of one key,
// the group serves what the source holds, whatever order the writers
// returned in.
func TestWriteThroughOrder(t *testing.T) {
	for round := range 10 {
		src := &laggingSource{mapSource: mapSource{m: map[string]string{}}, delay: 8 * time.Millisecond}
		g := newGroup(t, Config{Loader: src, Writer: src})
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Go(func() {
				var err error
				if w == 3 {
					err = g.Delete(context.Background(), "k")
				} else {
					err = g.Set(context.Background(), "k", fmt.Appendf(nil, "w%d", w), GroupTTL)
				}
				if err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		src.mapSource.mu.Lock()
		want, ok := src.m["k"]
		src.mapSource.mu.Unlock()
		got, err := g.Get(context.Background(), "k")
		if !ok && err == nil || ok && (err != nil || string(got.Bytes) != want) {
			t.Fatalf("round %d: Get = %q, %v; the source holds %q (present %v)", round, got.Bytes, err, want, ok)
		}
	}
}
