package cache

import (
	"math/rand/v2"
	"sync"
)

const (
	readStripes   = 16 // a power of two
	readStripeLen = 64
)

// readBuffer records accesses on the hit path without blocking: a reader
// picks a stripe at random and drops its event when the stripe is busy or
// full and the policy is busy. Losing some accesses only blurs recency and
// frequency a little; blocking hits on the policy would cost far more.
type readBuffer struct {
	stripes [readStripes]readStripe
}

type readStripe struct {
	mu  sync.Mutex
	n   int
	buf [readStripeLen]uint64
	_   [48]byte
}

// record adds an access to h. When the stripe fills up it calls drain with
// the stripe's events if tryLock succeeds; drain runs with the lock held.
func (b *readBuffer) record(h uint64, tryLock func() bool, drain func([]uint64)) {
	s := &b.stripes[rand.Uint32()&(readStripes-1)]
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
			continue // a reader is draining or recording; leave it
		}
		for _, h := range s.buf[:s.n] {
			events = append(events, Event{Op: OpAccess, Hash: h})
		}
		s.n = 0
		s.mu.Unlock()
	}
	return events
}
