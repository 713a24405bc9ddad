package main

import (
	"log/slog"
	"runtime"
	"runtime/debug"
	"runtime/metrics"

	"github.com/distcache/distcache/server/node"
)

// The node's garbage collector, unless GOGC or GOMEMLIMIT set it
// (docs/decisions/0013-grpc-transport.md, "Garbage collection"):
//
//   - a heap floor: while the live heap is small, GOGC is raised so that
//     the next collection comes only when the heap reaches heapFloor. With
//     Go's default a node holding 1 MB collected every 4 MB of allocation,
//     several times a second at 20,000 calls a second: a fifth of its CPU.
//     Once the live heap passes half the floor, GOGC is Go's 100 again, so
//     a node full of entries keeps the memory per entry of decision 0014.
//   - a soft memory limit of the groups' capacities plus headroom, so that
//     a full node collects as it nears what its capacity promises rather
//     than at twice its live heap.
const (
	heapFloor = 64 << 20
	// maxGCPercent bounds the raised GOGC (a live heap of 640 KiB).
	maxGCPercent = 10_000
	// memoryHeadroom is what the limit allows beyond the capacities: calls
	// in flight, buffers, the runtime.
	memoryHeadroom = 256 << 20
	// capacitySlack allows for accounting a quarter under (it is within
	// 20%, see decision 0014).
	capacitySlack = 1.25
)

// memoryLimit is the soft memory limit of a node whose groups hold
// capacity bytes in all.
func memoryLimit(capacity int64) int64 {
	return int64(float64(capacity)*capacitySlack) + memoryHeadroom
}

// gcPercentFor is the GOGC that puts the next collection at heapFloor
// for a live heap of live bytes, or 100 once twice live passes it.
func gcPercentFor(live uint64) int {
	if live == 0 || 2*live >= heapFloor {
		return 100
	}
	return min(int(heapFloor*100/live)-100, maxGCPercent)
}

// tuneGC applies the defaults above for the node's groups, leaving what
// the environment set (getenv is os.Getenv: the runtime reads GOGC and
// GOMEMLIMIT from the process's own environment), and logs what it chose.
func tuneGC(n *node.Node, getenv func(string) string, log *slog.Logger) {
	var capacity int64
	for _, g := range n.All() {
		capacity += g.Stats().Capacity
	}
	limit := memoryLimit(capacity)
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(limit)
	} else {
		limit = debug.SetMemoryLimit(-1) // reads it
	}
	floor := getenv("GOGC") == ""
	if floor {
		t := &heapFloorTuner{sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
		t.tune()
		t.arm()
	}
	log.Info("garbage collector", "heap_floor", floor, "memory_limit_bytes", limit, "capacity_bytes", capacity)
}

// heapFloorTuner sets GOGC after every collection from the live heap it
// left (gcPercentFor). Only the finalizer goroutine uses it.
type heapFloorTuner struct {
	sample []metrics.Sample
}

// gcSentinel is garbage made to learn when a collection has run. It is
// too large for the tiny allocator, whose blocks may outlive a
// collection and delay the finalizer.
type gcSentinel struct{ _ [32]byte }

// arm makes a sentinel whose finalizer, run after the next collection,
// tunes and arms again.
func (t *heapFloorTuner) arm() {
	runtime.SetFinalizer(&gcSentinel{}, func(*gcSentinel) {
		t.tune()
		t.arm()
	})
}

func (t *heapFloorTuner) tune() {
	metrics.Read(t.sample)
	if t.sample[0].Value.Kind() == metrics.KindUint64 {
		debug.SetGCPercent(gcPercentFor(t.sample[0].Value.Uint64()))
	}
}
