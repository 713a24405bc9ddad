package cache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestGetManyAnswersAsGet checks each key of a batch against what Get
// answers for it: hits, loads, the source's not-found (then a negative
// hit), a failed load, and a written key.
func TestGetManyAnswersAsGet(t *testing.T) {
	src := &mapSource{m: map[string]string{"a": "1", "b": "2"}}
	g := newGroup(t, Config{Loader: src, Writer: src, NegativeTTL: time.Minute, TTL: time.Hour})
	ctx := context.Background()
	mustGet(t, g, "a") // a hit from now on
	if err := g.Set(ctx, "w", []byte("written"), 0); err != nil {
		t.Fatal(err)
	}
	rs := g.GetMany(ctx, []string{"a", "b", "missing", "w", "missing"})
	want := []struct {
		value  string
		source Source
		err    error
	}{{"1", SourceLocal, nil}, {"2", SourceLoader, nil}, {"", 0, ErrNotFound}, {"written", SourceLocal, nil}, {"", 0, ErrNotFound}}
	for i, w := range want {
		r := rs[i]
		if !errors.Is(r.Err, w.err) || (w.err == nil && (string(r.Value.Bytes) != w.value || r.Value.Source != w.source)) {
			t.Errorf("key %d: %q from %v, %v; want %q from %v, %v", i, r.Value.Bytes, r.Value.Source, r.Err, w.value, w.source, w.err)
		}
	}
	if rs[0].Value.Expires.IsZero() || !rs[3].Value.Expires.IsZero() {
		t.Errorf("expiries %v and %v: want the group ttl, then never", rs[0].Value.Expires, rs[3].Value.Expires)
	}
	// The two misses of "missing" joined one load, as two Gets at once do;
	// from now on it is a negative hit.
	if r := g.GetMany(ctx, []string{"missing"})[0]; !errors.Is(r.Err, ErrNotFound) {
		t.Errorf("missing again: %v", r.Err)
	}
	if s := g.Stats(); s.NegativeHits != 1 || s.Loads != 3 {
		t.Errorf("negative hits %d, loads %d; want 1 and 3 (a, b, missing once)", s.NegativeHits, s.Loads)
	}
	src.mu.Lock()
	src.fail = errors.New("source down")
	src.mu.Unlock()
	rs = g.GetMany(ctx, []string{"a", "c"})
	var le *LoadError
	if rs[0].Err != nil || !errors.As(rs[1].Err, &le) {
		t.Errorf("with the source down: %v, %v; want a hit and a *LoadError", rs[0].Err, rs[1].Err)
	}
}

// TestSetManyDeleteMany checks batch writes against the single ones:
// values and ttls stored, a write-through failure per key, tombstones.
func TestSetManyDeleteMany(t *testing.T) {
	src := &mapSource{m: map[string]string{}}
	clock := newFakeClock()
	g := newGroup(t, Config{Loader: src, Writer: src, TTL: time.Minute, Capacity: 1 << 10}, WithClock(clock.Now))
	ctx := context.Background()
	errs := g.SetMany(ctx, []Entry{
		{Key: "a", Value: []byte("1"), TTL: GroupTTL},
		{Key: "b", Value: []byte("2"), TTL: 0},
		{Key: "big", Value: make([]byte, 2<<10), TTL: GroupTTL},
	})
	if errs[0] != nil || errs[1] != nil || !errors.Is(errs[2], ErrTooLarge) {
		t.Fatalf("SetMany: %v", errs)
	}
	clock.Advance(2 * time.Minute)
	if src.m["a"] != "1" || src.m["b"] != "2" {
		t.Errorf("source %v: the writes did not go through", src.m)
	}
	if v := mustGet(t, g, "b"); string(v.Bytes) != "2" || v.Source != SourceLocal {
		t.Errorf("b: %q from %v", v.Bytes, v.Source)
	}
	if v := mustGet(t, g, "a"); v.Source != SourceLoader {
		t.Errorf("a after its ttl: from %v, want a reload", v.Source)
	}
	for i, err := range g.DeleteMany(ctx, []string{"a", "b", "never"}) {
		if err != nil {
			t.Errorf("DeleteMany %d: %v", i, err)
		}
	}
	wantNotFound(t, g, "a")
	wantNotFound(t, g, "b")
}

// TestBatchHammer runs batches and single calls on the same keys at once
// under -race: every answer is a value some writer wrote, or not found.
func TestBatchHammer(t *testing.T) {
	g := newGroup(t, Config{})
	ctx := context.Background()
	keys := make([]string, 16)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%d", i)
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 200 {
				entries := make([]Entry, len(keys))
				for j, k := range keys {
					entries[j] = Entry{Key: k, Value: fmt.Appendf(nil, "%s=%d.%d", k, w, i), TTL: GroupTTL}
				}
				for _, err := range g.SetMany(ctx, entries) {
					if err != nil {
						t.Error(err)
					}
				}
				for j, r := range g.GetMany(ctx, keys) {
					if r.Err != nil && !errors.Is(r.Err, ErrNotFound) || r.Err == nil && string(r.Value.Bytes[:len(keys[j])+1]) != keys[j]+"=" {
						t.Errorf("%s: %q, %v", keys[j], r.Value.Bytes, r.Err)
					}
				}
				g.DeleteMany(ctx, keys[w:w+4])
				_ = g.Set(ctx, keys[i%16], []byte(keys[i%16]+"=single"), GroupTTL)
				_, _ = g.Get(ctx, keys[(i+w)%16])
			}
		})
	}
	wg.Wait()
}
