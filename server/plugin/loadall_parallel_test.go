package plugin

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/distcache/distcache/server/cache"
)

// gate is a [LoadTrace] that holds the compiles of the names it holds
// until released (or their context ends), and counts the compiles inside.
type gate struct {
	hold    func(name string) bool
	release chan struct{}

	mu      sync.Mutex
	inside  int
	peak    int
	entered chan string
}

func newGate(hold func(name string) bool) *gate {
	return &gate{hold: hold, release: make(chan struct{}), entered: make(chan string, 64)}
}

func (g *gate) trace(ctx context.Context) context.Context {
	return WithLoadTrace(ctx, &LoadTrace{Compiling: func(ctx context.Context, name string) {
		g.mu.Lock()
		g.inside++
		g.peak = max(g.peak, g.inside)
		g.mu.Unlock()
		g.entered <- name
		if g.hold(name) {
			select {
			case <-g.release:
			case <-ctx.Done():
			}
		}
		g.mu.Lock()
		g.inside--
		g.mu.Unlock()
	}})
}

// waitEntered waits for n compiles to reach the gate and returns their names.
func (g *gate) waitEntered(t *testing.T, n int) []string {
	t.Helper()
	var names []string
	for range n {
		select {
		case name := <-g.entered:
			names = append(names, name)
		case <-time.After(30 * time.Second):
			t.Fatalf("only %v reached the gate, want %d", names, n)
		}
	}
	return names
}

// policyDir writes n copies of policy/lru named p0, p1, ... into a new
// directory.
func policyDir(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	lru := buildWasm(t, "policy/lru")
	for i := range n {
		writeModule(t, dir, fmt.Sprintf("p%d", i), lru)
	}
	return dir
}

// TestStartLoadAllCompilesInParallel: GOMAXPROCS compiles run at once, no
// more, and every file is loaded when the channel closes.
func TestStartLoadAllCompilesInParallel(t *testing.T) {
	workers := runtime.GOMAXPROCS(0)
	files := workers + 2
	rt := newTestRuntime(t, Config{})
	m := NewManager(rt.Runtime, policyDir(t, files))
	t.Cleanup(m.Close)
	g := newGate(func(string) bool { return true })
	done, err := m.StartLoadAll(g.trace(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	g.waitEntered(t, workers) // every worker holds one: they run at once
	if got := len(m.Plugins()); got != 0 {
		t.Fatalf("%d plugins loaded while every compile is held", got)
	}
	close(g.release)
	g.waitEntered(t, files-workers)
	within(t, 60*time.Second, "the background load", func() { <-done })
	if got := len(m.Plugins()); got != files {
		t.Fatalf("%d plugins loaded, want %d", got, files)
	}
	if g.peak != workers {
		t.Fatalf("%d compiles ran at once, want GOMAXPROCS = %d", g.peak, workers)
	}
}

// TestPolicyBoundWhenReady: a group bound to a policy still compiling is
// served by the native LRU, then gets the plugin as soon as it is loaded.
func TestPolicyBoundWhenReady(t *testing.T) {
	rt := newTestRuntime(t, Config{})
	m := NewManager(rt.Runtime, policyDir(t, 1))
	g, err := cache.NewGroup(cache.Config{Name: "g", Capacity: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close(); m.Close() })
	gt := newGate(func(string) bool { return true })
	done, err := m.StartLoadAll(gt.trace(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	gt.waitEntered(t, 1)
	if err := m.BindPolicy(context.Background(), g, "p0", 1<<20); err != nil {
		t.Fatal(err)
	}
	if got := g.Stats().Policy; !strings.HasPrefix(got, "lru (native") {
		t.Fatalf("policy while compiling = %q, want the native LRU", got)
	}
	if !strings.Contains(rt.logs.String(), "still compiling") || strings.Contains(rt.logs.String(), "not loaded") {
		t.Fatalf("logs while compiling:\n%s", rt.logs)
	}
	if n := rt.counter(t, "distcache.policy.fallbacks.native", map[string]string{"reason": "compiling"}); n != 1 {
		t.Fatalf("fallbacks for compiling = %d, want 1", n)
	}
	close(gt.release)
	within(t, 60*time.Second, "the background load", func() { <-done })
	if got := g.Stats().Policy; !strings.HasPrefix(got, "p0 (wasm") {
		t.Fatalf("policy once loaded = %q, want p0 (wasm...)", got)
	}
}

// TestAwaitLoadsAheadOfQueue: while every worker is held on a policy,
// Await loads a loader queued behind them on its own goroutine; Await on a
// name a worker holds waits for it, or for its context.
func TestAwaitLoadsAheadOfQueue(t *testing.T) {
	workers := runtime.GOMAXPROCS(0)
	dir := policyDir(t, workers+1) // p0... sort before sqlkv
	writeModule(t, dir, "sqlkv", buildWasm(t, "loader/sqlkv"))
	rt := newTestRuntime(t, Config{})
	m := NewManager(rt.Runtime, dir)
	t.Cleanup(m.Close)
	g := newGate(func(name string) bool { return name != "sqlkv" })
	done, err := m.StartLoadAll(g.trace(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	held := g.waitEntered(t, workers)
	if err := m.Await(context.Background(), "sqlkv"); err != nil {
		t.Fatal(err)
	}
	if p := m.Plugins(); len(p) != 1 || p[0].Name != "sqlkv" || p[0].Kind != KindLoader {
		t.Fatalf("plugins after Await = %+v, want the sqlkv loader alone", p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := m.Await(ctx, held[0]); err != context.DeadlineExceeded {
		t.Fatalf("Await(%s) while held = %v, want its context's deadline", held[0], err)
	}
	if err := m.Await(context.Background(), "absent"); err != nil {
		t.Fatalf("Await of a name not queued = %v", err)
	}
	close(g.release)
	if err := m.Await(context.Background(), held[0]); err != nil {
		t.Fatal(err)
	}
	within(t, 60*time.Second, "the background load", func() { <-done })
	if got := len(m.Plugins()); got != workers+2 {
		t.Fatalf("%d plugins loaded, want %d", got, workers+2)
	}
}

// TestStartLoadAllStopsWithContext: cancelling the context ends the held
// compiles, starts no more, and closes the channel.
func TestStartLoadAllStopsWithContext(t *testing.T) {
	workers := runtime.GOMAXPROCS(0)
	rt := newTestRuntime(t, Config{})
	m := NewManager(rt.Runtime, policyDir(t, workers+3))
	t.Cleanup(m.Close)
	g := newGate(func(string) bool { return true })
	ctx, cancel := context.WithCancel(context.Background())
	done, err := m.StartLoadAll(g.trace(ctx))
	if err != nil {
		t.Fatal(err)
	}
	g.waitEntered(t, workers)
	cancel()
	within(t, 10*time.Second, "the cancelled load", func() { <-done })
	if got := len(m.Plugins()); got != 0 {
		t.Fatalf("%d plugins loaded after cancelling, want 0", got)
	}
	if err := m.Await(context.Background(), "p0"); err != nil {
		t.Fatalf("Await after the load ended = %v", err)
	}
}
