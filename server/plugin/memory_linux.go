package plugin

import (
	"sync"
	"syscall"

	"github.com/tetratelabs/wazero/experimental"
)

// mappedMemory is an instance's memory in an anonymous mapping of its
// whole limit, made once: growing it moves and copies nothing, and the
// kernel gives it pages (zeroed) only as the guest touches them, so the
// process holds what the guest uses, not what it may use.
//
// Free gives the pages back (MADV_DONTNEED: they read as zero again) but
// not the address range, which goes back to the runtime's pool for the
// next instance: so a call still running on a closed instance cannot
// touch unmapped memory and crash the process. The pool is unmapped when
// the runtime closes.
type mappedMemory struct {
	pool *mappingPool
	full []byte // the mapping
	mem  []byte // full[:limit:limit]
	used uint64 // the most the guest grew to
}

// mappingPool holds the address ranges of freed instances for reuse. The
// ranges kept are at most those of the instances alive at once.
type mappingPool struct {
	mu   sync.Mutex
	free [][]byte
}

// get returns a memory of at most limit bytes, or nil if the kernel
// refuses the mapping (under strict overcommit, say).
func (p *mappingPool) get(limit uint64) experimental.LinearMemory {
	if limit == 0 {
		return nil
	}
	p.mu.Lock()
	for i, b := range p.free {
		if uint64(len(b)) >= limit {
			p.free = append(p.free[:i], p.free[i+1:]...)
			p.mu.Unlock()
			return &mappedMemory{pool: p, full: b, mem: b[:limit:limit]}
		}
	}
	p.mu.Unlock()
	b, err := syscall.Mmap(-1, 0, int(limit), syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_PRIVATE|syscall.MAP_ANONYMOUS|syscall.MAP_NORESERVE)
	if err != nil {
		return nil
	}
	return &mappedMemory{pool: p, full: b, mem: b}
}

// release unmaps the ranges in the pool. Call it once no instance runs.
func (p *mappingPool) release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, b := range p.free {
		_ = syscall.Munmap(b)
	}
	p.free = nil
}

// Reallocate implements [experimental.LinearMemory]: it returns nil, which
// fails the guest's memory.grow, past the limit.
func (m *mappedMemory) Reallocate(size uint64) []byte {
	if size > uint64(len(m.mem)) {
		return nil
	}
	m.used = max(m.used, size)
	return m.mem[:size:size]
}

// Free implements [experimental.LinearMemory].
func (m *mappedMemory) Free() {
	if m.full == nil {
		return
	}
	if m.used > 0 {
		_ = syscall.Madvise(m.full[:m.used], syscall.MADV_DONTNEED)
	}
	m.pool.mu.Lock()
	m.pool.free = append(m.pool.free, m.full)
	m.pool.mu.Unlock()
	m.full, m.mem = nil, nil
}
