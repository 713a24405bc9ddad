package plugin

import (
	"github.com/tetratelabs/wazero/experimental"

	"github.com/distcache/distcache/server/cache"
)

// MaxMemoryBytes is the most memory any instance gets: all that a 32-bit
// WebAssembly memory can address (65,536 pages of 64 KiB).
const MaxMemoryBytes = 4 << 30

// The budget [PolicyMemoryLimit] gives a policy instance.
const (
	// PolicyMemoryBase is the memory a policy gets whatever its group's
	// size: its language runtime (~2.5 MiB for Go), its event buffer, and
	// fixed tables (the shipped W-TinyLFU's frequency sketch is at most
	// 16 MiB).
	PolicyMemoryBase = 32 << 20
	// PolicyMemoryPerEntry is the memory a policy gets for each entry its
	// group can hold: room for the entry and two ghosts (ARC keeps up to
	// twice the capacity's worth of evicted keys) at 40 bytes each, the
	// most a shipped policy takes per key it tracks, garbage and growth
	// included (about 38).
	PolicyMemoryPerEntry = 128
	// minEntryCost is the cost of the smallest entry a group holds: a
	// 1-byte key (keys are never empty) with no value, as a remembered
	// not-found is.
	minEntryCost = 1 + cache.EntryOverhead
)

// PolicyMemoryLimit returns the memory cap, in bytes, of a policy instance
// for a group of capacity bytes: [PolicyMemoryBase] plus
// [PolicyMemoryPerEntry] for each entry the group can hold when every
// entry is as small as an entry can be, at most [MaxMemoryBytes]. A 64 MiB
// group gets 144 MiB; a group of 10,000,000 of the smallest entries (696
// MiB) gets about 1.2 GiB. The memory is a cap, not a reservation: an
// instance holds what its policy uses.
func PolicyMemoryLimit(capacity int64) int64 {
	entries := max(capacity, 0) / minEntryCost
	if entries > (MaxMemoryBytes-PolicyMemoryBase)/PolicyMemoryPerEntry {
		return MaxMemoryBytes
	}
	return PolicyMemoryBase + entries*PolicyMemoryPerEntry
}

// cappedMemory is a memory allocator that caps each instance's memory at
// limit bytes, below the runtime's limit ([MaxMemoryBytes]), which wazero
// applies to every instance alike. On Linux an instance's memory is a
// mapping from pool (see memory_linux.go), elsewhere a sliceMemory.
type cappedMemory struct {
	limit uint64
	pool  *mappingPool
}

var _ experimental.MemoryAllocator = cappedMemory{}

// Allocate implements [experimental.MemoryAllocator].
func (c cappedMemory) Allocate(_, maxBytes uint64) experimental.LinearMemory {
	limit := min(c.limit, maxBytes)
	if m := c.pool.get(limit); m != nil {
		return m
	}
	return &sliceMemory{limit: limit}
}

// sliceMemory is an instance's memory in a Go slice that grows by doubling
// its capacity, up to the limit, so that a guest growing its memory page
// by page is copied O(log n) times in all. It is the fallback where
// mappedMemory is not available: growing copies the memory inside a guest
// call, which for hundreds of MiB can take long enough to miss a policy
// call's deadline on a busy machine.
type sliceMemory struct {
	buf   []byte
	limit uint64
}

// Reallocate implements [experimental.LinearMemory]: it returns nil, which
// fails the guest's memory.grow, past the limit.
func (m *sliceMemory) Reallocate(size uint64) []byte {
	switch {
	case size > m.limit:
		return nil
	case size <= uint64(cap(m.buf)):
		// Bytes past the old length were never written: still zero.
		m.buf = m.buf[:size]
		return m.buf
	}
	grown := make([]byte, size, max(size, min(2*uint64(cap(m.buf)), m.limit)))
	copy(grown, m.buf)
	m.buf = grown
	return grown
}

// Free implements [experimental.LinearMemory].
func (m *sliceMemory) Free() { m.buf = nil }

// wasmPageSize is the size of a WebAssembly memory page.
const wasmPageSize = 64 << 10
