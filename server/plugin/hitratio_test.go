package plugin

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/distcache/distcache/internal/trace"
	"github.com/distcache/distcache/server/cache"
)

// arcTrace makes an ARC-format trace ("start count 0 0" lines): runs of
// blocks whose starts follow a skewed distribution, with a scan now and
// then, like a database's block accesses.
func arcTrace(lines int, seed uint64) string {
	r := rand.New(rand.NewPCG(seed, 1))
	zipf := rand.NewZipf(r, 1.1, 8, 20_000)
	var b strings.Builder
	for range lines {
		start, count := zipf.Uint64()*4, 1+r.Uint64N(4)
		if r.IntN(50) == 0 {
			start, count = 100_000+r.Uint64N(100_000), 50 // a scan
		}
		fmt.Fprintf(&b, "%d %d 0 0\n", start, count)
	}
	return b.String()
}

// wasmReplay replays keys through a fresh instance of the policy built
// from pkg, with capacity in entries (unit costs).
func wasmReplay(t *testing.T, rt *testRuntime, pkg string, keys []uint64, capacity int) float64 {
	t.Helper()
	m, err := rt.Compile(context.Background(), "p", buildWasm(t, pkg))
	if err != nil {
		t.Fatal(err)
	}
	p, err := m.NewPolicy(context.Background(), int64(capacity))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	hits, total, err := trace.Replay(p, trace.Slice(keys), capacity)
	if err != nil || p.Err() != nil {
		t.Fatalf("replay %s: %v, %v", pkg, err, p.Err())
	}
	return float64(hits) / float64(total)
}

func ratio(t *testing.T, replay func(trace.Reader, int) (int64, int64, error), keys []uint64, capacity int) float64 {
	t.Helper()
	hits, total, err := replay(trace.Slice(keys), capacity)
	if err != nil {
		t.Fatal(err)
	}
	return float64(hits) / float64(total)
}

// TestWASMLRUEqualsExactLRU replays an ARC-format trace through the WASM
// LRU and an exact native LRU: the hit ratios must be equal.
func TestWASMLRUEqualsExactLRU(t *testing.T) {
	keys, err := trace.Collect(trace.ParseARC(strings.NewReader(arcTrace(30_000, 1))))
	if err != nil {
		t.Fatal(err)
	}
	rt := newTestRuntime(t, Config{})
	for _, capacity := range []int{100, 1000, 5000} {
		wasm := wasmReplay(t, rt, "policy/lru", keys, capacity)
		native := ratio(t, func(r trace.Reader, c int) (int64, int64, error) { return trace.Replay(cache.NewLRU(), r, c) }, keys, capacity)
		t.Logf("capacity %d: wasm lru %.4f, exact lru %.4f (%d requests)", capacity, wasm, native, len(keys))
		if wasm != native {
			t.Errorf("capacity %d: wasm LRU %.6f != exact LRU %.6f", capacity, wasm, native)
		}
	}
}

// TestWASMARCMatchesReference compares the WASM ARC with hashicorp's ARC.
func TestWASMARCMatchesReference(t *testing.T) {
	keys, err := trace.Collect(trace.ParseARC(strings.NewReader(arcTrace(20_000, 2))))
	if err != nil {
		t.Fatal(err)
	}
	rt := newTestRuntime(t, Config{})
	for _, capacity := range []int{100, 1000} {
		wasm := wasmReplay(t, rt, "policy/arc", keys, capacity)
		ref := ratio(t, trace.ReplayARC, keys, capacity)
		t.Logf("capacity %d: wasm arc %.4f, hashicorp arc %.4f", capacity, wasm, ref)
		if wasm != ref {
			t.Errorf("capacity %d: wasm ARC %.6f != hashicorp ARC %.6f", capacity, wasm, ref)
		}
	}
}

// TestWASMWTinyLFU checks the modern policy: it beats LRU and ARC on a
// loop, and is at least as good as otter on Zipf.
func TestWASMWTinyLFU(t *testing.T) {
	rt := newTestRuntime(t, Config{})
	const capacity = 1000
	loop, _ := trace.Collect(trace.Loop(60_000, 1500))
	w := wasmReplay(t, rt, "policy/wtinylfu", loop, capacity)
	lru := ratio(t, trace.ReplayLRU, loop, capacity)
	arc := ratio(t, trace.ReplayARC, loop, capacity)
	t.Logf("loop of 1500 at %d: wtinylfu %.4f, lru %.4f, arc %.4f", capacity, w, lru, arc)
	if w < lru+0.3 || w < arc+0.3 {
		t.Errorf("wtinylfu %.4f does not clearly beat lru %.4f and arc %.4f on a loop", w, lru, arc)
	}
	zipf, _ := trace.Collect(trace.Zipf(500_000, 100_000, 1.0, 7))
	w = wasmReplay(t, rt, "policy/wtinylfu", zipf, capacity)
	otter := ratio(t, trace.ReplayOtter, zipf, capacity)
	t.Logf("zipf 1.0 at %d: wtinylfu %.4f, otter %.4f", capacity, w, otter)
	if w < otter-0.005 {
		t.Errorf("wtinylfu %.4f is worse than otter %.4f on Zipf", w, otter)
	}
}
