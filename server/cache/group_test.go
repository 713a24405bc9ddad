package cache

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestGetLoadsOnceThenHits(t *testing.T) {
	src := &mapSource{m: map[string]string{"hello": "world"}}
	g := newGroup(t, Config{Loader: src})
	v := mustGet(t, g, "hello")
	if string(v.Bytes) != "world" || v.Source != SourceLoader {
		t.Fatalf("first Get = %q from %d, want world from loader", v.Bytes, v.Source)
	}
	v = mustGet(t, g, "hello")
	if string(v.Bytes) != "world" || v.Source != SourceLocal {
		t.Fatalf("second Get = %q from %d, want world from local", v.Bytes, v.Source)
	}
	s := g.Stats()
	if s.Gets != 2 || s.Hits != 1 || s.Misses != 1 || s.Loads != 1 || src.Loads() != 1 {
		t.Fatalf("stats = %+v, loader calls %d", s, src.Loads())
	}
	if s.HitRatio() != 0.5 {
		t.Fatalf("hit ratio = %v, want 0.5", s.HitRatio())
	}
}

func TestSingleFlight(t *testing.T) {
	const n = 64
	release := make(chan struct{})
	var calls sync.Mutex
	count := 0
	loader := LoaderFunc(func(ctx context.Context, key string) (Loaded, error) {
		calls.Lock()
		count++
		calls.Unlock()
		<-release
		return Loaded{Value: []byte("v-" + key)}, nil
	})
	g := newGroup(t, Config{Loader: loader})
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			v, err := g.Get(context.Background(), "k")
			if err == nil && string(v.Bytes) != "v-k" {
				err = fmt.Errorf("got %q", v.Bytes)
			}
			errs <- err
		})
	}
	// Wait until every caller has missed, then let the one load finish.
	for g.Stats().Misses < n {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if count != 1 {
		t.Fatalf("%d concurrent misses caused %d loads, want 1", n, count)
	}
}

func TestCallerCancelDoesNotCancelSharedLoad(t *testing.T) {
	release := make(chan struct{})
	loader := LoaderFunc(func(ctx context.Context, key string) (Loaded, error) {
		select {
		case <-release:
			return Loaded{Value: []byte("v")}, nil
		case <-ctx.Done():
			return Loaded{}, ctx.Err()
		}
	})
	g := newGroup(t, Config{Loader: loader})
	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() { _, err := g.Get(ctx, "k"); first <- err }()
	second := make(chan error, 1)
	go func() { _, err := g.Get(context.Background(), "k"); second <- err }()
	for g.Stats().Misses < 2 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller got %v, want context.Canceled", err)
	}
	close(release)
	if err := <-second; err != nil {
		t.Fatalf("other caller got %v, want the loaded value", err)
	}
}

func TestNegativeCaching(t *testing.T) {
	clock := newFakeClock()
	src := &mapSource{m: map[string]string{}}
	g := newGroup(t, Config{Loader: src, NegativeTTL: time.Minute}, WithClock(clock.Now))
	wantNotFound(t, g, "missing")
	wantNotFound(t, g, "missing")
	if src.Loads() != 1 {
		t.Fatalf("loads = %d, want 1 (second not-found remembered)", src.Loads())
	}
	if s := g.Stats(); s.NegativeHits != 1 || s.Hits != 0 {
		t.Fatalf("stats = %+v, want one negative hit and no hits", s)
	}
	clock.Advance(time.Minute)
	wantNotFound(t, g, "missing")
	if src.Loads() != 2 {
		t.Fatalf("loads = %d after negative ttl, want 2", src.Loads())
	}
	// A Set replaces the remembered not-found at once.
	mustSet(t, g, "missing", "now here")
	if v := mustGet(t, g, "missing"); string(v.Bytes) != "now here" {
		t.Fatalf("Get after Set = %q", v.Bytes)
	}
}

func TestNoNegativeCachingWithoutTTL(t *testing.T) {
	src := &mapSource{m: map[string]string{}}
	g := newGroup(t, Config{Loader: src})
	wantNotFound(t, g, "missing")
	wantNotFound(t, g, "missing")
	if src.Loads() != 2 {
		t.Fatalf("loads = %d, want 2 with negative ttl 0", src.Loads())
	}
}

func TestLoaderErrorIsAnErrorNeverAValue(t *testing.T) {
	boom := errors.New("database on fire")
	src := &mapSource{m: map[string]string{"k": "v"}, fail: boom}
	g := newGroup(t, Config{Loader: src, NegativeTTL: time.Minute})
	v, err := g.Get(context.Background(), "k")
	var le *LoadError
	if !errors.As(err, &le) || !errors.Is(err, boom) || v.Bytes != nil {
		t.Fatalf("Get = (%q, %v), want a *LoadError wrapping the loader's error", v.Bytes, err)
	}
	if errors.Is(err, ErrNotFound) {
		t.Fatal("a loader error must not look like not-found")
	}
	// The error is not cached: the next Get loads again and succeeds.
	src.mu.Lock()
	src.fail = nil
	src.mu.Unlock()
	if v := mustGet(t, g, "k"); string(v.Bytes) != "v" {
		t.Fatalf("Get after recovery = %q", v.Bytes)
	}
	if s := g.Stats(); s.LoadErrors != 1 || s.Loads != 2 {
		t.Fatalf("stats = %+v, want 1 load error of 2 loads", s)
	}
}

func TestLoadTimeout(t *testing.T) {
	loader := LoaderFunc(func(ctx context.Context, key string) (Loaded, error) {
		<-ctx.Done()
		return Loaded{}, ctx.Err()
	})
	g := newGroup(t, Config{Loader: loader, LoadTimeout: 20 * time.Millisecond})
	_, err := g.Get(context.Background(), "k")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get = %v, want the load's deadline exceeded", err)
	}
}

func TestTTL(t *testing.T) {
	clock := newFakeClock()
	g := newGroup(t, Config{TTL: time.Minute}, WithClock(clock.Now), WithSweepInterval(0))
	mustSet(t, g, "a", "1")
	if err := g.Set(context.Background(), "forever", []byte("2"), 0); err != nil {
		t.Fatal(err)
	}
	if err := g.Set(context.Background(), "short", []byte("3"), time.Second); err != nil {
		t.Fatal(err)
	}
	v := mustGet(t, g, "a")
	if want := clock.Now().Add(time.Minute); !v.Expires.Equal(want) {
		t.Fatalf("Expires = %v, want %v", v.Expires, want)
	}
	if v := mustGet(t, g, "forever"); !v.Expires.IsZero() {
		t.Fatalf("ttl 0 entry expires at %v, want never", v.Expires)
	}
	clock.Advance(time.Second)
	wantNotFound(t, g, "short") // expired on read, before any sweep
	mustGet(t, g, "a")
	clock.Advance(time.Minute)
	wantNotFound(t, g, "a")
	if n := g.Sweep(); n != 2 {
		t.Fatalf("Sweep removed %d, want 2 (a, short)", n)
	}
	s := g.Stats()
	if s.Items != 1 || s.Expirations != 2 || s.Bytes != entryCost("forever", []byte("2")) {
		t.Fatalf("after sweep: %+v", s)
	}
}

func TestBackgroundSweep(t *testing.T) {
	clock := newFakeClock()
	g := newGroup(t, Config{TTL: time.Second}, WithClock(clock.Now), WithSweepInterval(time.Millisecond))
	mustSet(t, g, "a", "1")
	clock.Advance(2 * time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for g.Stats().Items != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the sweeper never removed the expired entry")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestWriteThrough(t *testing.T) {
	src := &mapSource{m: map[string]string{}}
	g := newGroup(t, Config{Loader: src, Writer: src})
	mustSet(t, g, "k", "v1")
	if src.m["k"] != "v1" {
		t.Fatalf("source has %q, want v1 written through", src.m["k"])
	}
	if err := g.Delete(context.Background(), "k"); err != nil {
		t.Fatal(err)
	}
	if _, ok := src.m["k"]; ok {
		t.Fatal("Delete did not remove the key from the source")
	}
	wantNotFound(t, g, "k")

	// A failing source changes nothing.
	mustSet(t, g, "kept", "old")
	src.fail = errors.New("read-only")
	var we *WriteError
	if err := g.Set(context.Background(), "kept", []byte("new"), GroupTTL); !errors.As(err, &we) {
		t.Fatalf("Set with failing source = %v, want *WriteError", err)
	}
	if err := g.Delete(context.Background(), "kept"); !errors.As(err, &we) {
		t.Fatalf("Delete with failing source = %v, want *WriteError", err)
	}
	src.fail = nil
	if v := mustGet(t, g, "kept"); string(v.Bytes) != "old" || src.m["kept"] != "old" {
		t.Fatalf("after refused writes: cache %q, source %q, want old/old", v.Bytes, src.m["kept"])
	}
}

func TestSetTooLargeChangesNothing(t *testing.T) {
	src := &mapSource{m: map[string]string{}}
	g := newGroup(t, Config{Capacity: 1000, Writer: src})
	err := g.Set(context.Background(), "big", make([]byte, 1000), GroupTTL)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Set = %v, want ErrTooLarge", err)
	}
	if len(src.m) != 0 || g.Stats().Items != 0 {
		t.Fatal("a refused Set changed the source or the cache")
	}
}

func TestDeleteDuringLoadDropsStaleValue(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	loader := LoaderFunc(func(ctx context.Context, key string) (Loaded, error) {
		close(started)
		<-release
		return Loaded{Value: []byte("stale")}, nil
	})
	g := newGroup(t, Config{Loader: loader})
	done := make(chan struct{})
	go func() { defer close(done); g.Get(context.Background(), "k") }()
	<-started
	mustSet(t, g, "k", "fresh")
	close(release)
	<-done
	if v := mustGet(t, g, "k"); string(v.Bytes) != "fresh" {
		t.Fatalf("Get = %q, want the Set's value, not the slower load's", v.Bytes)
	}
}

func TestPurge(t *testing.T) {
	g := newGroup(t, Config{})
	for i := range 10 {
		mustSet(t, g, fmt.Sprint(i), "v")
	}
	if n := g.Purge(); n != 10 {
		t.Fatalf("Purge = %d, want 10", n)
	}
	if s := g.Stats(); s.Items != 0 || s.Bytes != 0 {
		t.Fatalf("after Purge: %+v", s)
	}
	if lru := g.rules.Policy().(*LRU); lru.Len() != 0 {
		t.Fatalf("policy still tracks %d entries after Purge", lru.Len())
	}
}

func TestNewGroupRejectsBadConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no name", Config{Capacity: 1}, "no name"},
		{"zero capacity", Config{Name: "g"}, "capacity"},
		{"negative ttl", Config{Name: "g", Capacity: 1, TTL: -time.Second}, "negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewGroup(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("NewGroup = %v, want error containing %q", err, tc.want)
			}
		})
	}
}

// TestLoadsAreBounded floods a group whose source hangs with distinct
// keys: no more than MaxLoads loader calls run at once, and the loads
// past them fail with ErrTooManyLoads once the load timeout runs out,
// while the group keeps answering what it holds.
func TestLoadsAreBounded(t *testing.T) {
	release := make(chan struct{})
	var running, peak atomic.Int64
	g := newGroup(t, Config{Capacity: 1 << 20, MaxLoads: 3, LoadTimeout: 300 * time.Millisecond,
		Loader: LoaderFunc(func(ctx context.Context, key string) (Loaded, error) {
			n := running.Add(1)
			defer running.Add(-1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			select {
			case <-release:
			case <-ctx.Done():
				return Loaded{}, ctx.Err()
			}
			return Loaded{Value: []byte("v")}, nil
		})})
	mustSet(t, g, "held", "yes")
	var wg sync.WaitGroup
	var tooMany atomic.Int64
	for i := range 20 {
		wg.Go(func() {
			_, err := g.Get(context.Background(), fmt.Sprintf("miss-%d", i))
			if errors.Is(err, ErrTooManyLoads) {
				tooMany.Add(1)
			}
		})
	}
	wg.Wait()
	close(release)
	if p := peak.Load(); p > 3 {
		t.Fatalf("%d loader calls ran at once, MaxLoads is 3", p)
	}
	if tooMany.Load() == 0 {
		t.Fatal("no load was refused with ErrTooManyLoads")
	}
	if v, err := g.Get(context.Background(), "held"); err != nil || string(v.Bytes) != "yes" {
		t.Fatalf("the group stopped answering what it holds: %q, %v", v.Bytes, err)
	}
	if _, err := NewGroup(Config{Name: "x", Capacity: 1, MaxLoads: -1}); err == nil {
		t.Fatal("a negative MaxLoads was accepted")
	}
}
