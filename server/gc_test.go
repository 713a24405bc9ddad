package main

import (
	"io"
	"log/slog"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/distcache/distcache/server/node"
)

func TestGCPercentFor(t *testing.T) {
	for _, c := range []struct {
		live uint64
		want int
	}{
		{0, 100},
		{1 << 20, 6300},           // 1 MiB live: the next collection at 64 MiB
		{16 << 20, 300},           // 16 MiB: at 64 MiB
		{32 << 20, 100},           // half the floor: Go's default from here
		{1 << 30, 100},            // a full node
		{100 << 10, maxGCPercent}, // tiny: bounded
	} {
		if got := gcPercentFor(c.live); got != c.want {
			t.Errorf("gcPercentFor(%d) = %d, want %d", c.live, got, c.want)
		}
	}
	if got, want := memoryLimit(64<<20), int64(80<<20+256<<20); got != want {
		t.Fatalf("memoryLimit(64MiB) = %d, want %d", got, want)
	}
}

// TestTuneGC: without GOGC and GOMEMLIMIT the node sets a memory limit of
// its capacities and headroom and raises GOGC after collections while its
// heap is small; with them it keeps theirs.
func TestTuneGC(t *testing.T) {
	oldPercent, oldLimit := debug.SetGCPercent(100), debug.SetMemoryLimit(-1)
	defer func() { debug.SetGCPercent(oldPercent); debug.SetMemoryLimit(oldLimit) }()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	n := &node.Node{} // no groups: the limit is the headroom alone

	env := map[string]string{"GOGC": "150", "GOMEMLIMIT": "1TiB"}
	debug.SetGCPercent(150)
	debug.SetMemoryLimit(1 << 40)
	tuneGC(n, func(k string) string { return env[k] }, log)
	if got := debug.SetMemoryLimit(-1); got != 1<<40 {
		t.Errorf("GOMEMLIMIT from the environment = %d, want 1TiB kept", got)
	}
	if got := debug.SetGCPercent(150); got != 150 {
		t.Errorf("GOGC from the environment = %d, want 150 kept", got)
	}

	tuneGC(n, func(string) string { return "" }, log)
	if got := debug.SetMemoryLimit(-1); got != memoryHeadroom {
		t.Errorf("memory limit = %d, want %d", got, memoryHeadroom)
	}
	// This test's heap is far below the floor: after a collection the
	// tuner raises GOGC (it runs on the finalizer goroutine).
	deadline := time.Now().Add(30 * time.Second)
	for {
		runtime.GC()
		p := debug.SetGCPercent(-1)
		debug.SetGCPercent(p)
		if p > 100 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GOGC = %d after collections, want it raised for a small heap", p)
		}
		runtime.Gosched()
	}
}
