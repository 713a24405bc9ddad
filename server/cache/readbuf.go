package cache

import (
	"sync"
	"sync/atomic"
)

const (
	readStripes   = 16 // a power of two
	readStripeLen = 64
)

// readBuffer records accesses on the hit path without blocking. A reader
// takes a stripe through a sync.Pool, whose per-P cache hands each
// processor the same stripe again and again, so stripes rarely move
// between cores. The stripes themselves are a fixed array, so a writer can
// collect every buffered access. An event is dropped when its stripe is
// busy, or full while the policy is busy: losing some accesses only blurs
// recency and frequency a little, while blocking hits on the policy would
// cost every reader.
type readBuffer struct {
	stripes [readStripes]readStripe
	next    atomic.Uint32
	pool    sync.Pool // of *readStripe, all from stripes
}

type readStripe struct {
	mu  sync.Mutex
	n   int
	buf [readStripeLen]uint64
	_   [48]byte
}

func (b *readBuffer) stripe() *readStripe {
	if s, ok := b.pool.Get().(*readStripe); ok {
		return s
	}
	return &b.stripes[b.next.Add(1)&(readStripes-1)]
}

// record adds an access to h. When the stripe fills up and tryLock takes
// the policy lock, it calls drain with the stripe's events; drain runs
// with the policy lock held and must release it.
func (b *readBuffer) record(h uint64, tryLock func() bool, drain func([]uint64)) {
	s := b.stripe()
	defer b.pool.Put(s)
	if !s.mu.TryLock() {
		return
	}
	if s.n < readStripeLen {
		s.buf[s.n] = h
		s.n++
	}
	if s.n == readStripeLen && tryLock() {
		drain(s.buf[:s.n])
		s.n = 0
	}
	s.mu.Unlock()
}

// collect appends every buffered access to events as OpAccess and empties
// the stripes. The caller holds the policy lock.
func (b *readBuffer) collect(events []Event) []Event {
	for i := range b.stripes {
		s := &b.stripes[i]
		if !s.mu.TryLock() {
			continue // a reader is recording or draining; leave it
		}
		for _, h := range s.buf[:s.n] {
			events = append(events, Event{Op: OpAccess, Hash: h})
		}
		s.n = 0
		s.mu.Unlock()
	}
	return events
}
