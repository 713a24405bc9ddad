package policy

// EvictFirst adapts a policy written the way SIEVE, CLOCK and S3-FIFO are
// published, evict first and insert after, to the host's order, which
// announces a newcomer before it asks for room (so that an admission
// policy can refuse it).
//
// When a batch of events ends with an insert, the adapter holds that
// insert back: if Evict comes next, p chooses its victims without knowing
// the newcomer and hears of it right after; otherwise p gets it at the
// start of the next batch. So p never names the newcomer, and its own
// size bookkeeping may run one entry behind the host's between calls,
// never more.
//
// Register it around the policy:
//
//	policy.Register(func(capacity int64) policy.Policy {
//		return policy.EvictFirst(newSieve(capacity))
//	})
func EvictFirst(p Policy) Policy { return &evictFirst{p: p} }

type evictFirst struct {
	p    Policy
	held [1]Event
	hold bool
}

func (e *evictFirst) Apply(events []Event) {
	e.release()
	if n := len(events); n > 0 && events[n-1].Op == OpInsert {
		if n > 1 {
			e.p.Apply(events[:n-1])
		}
		e.held[0], e.hold = events[n-1], true
		return
	}
	if len(events) > 0 {
		e.p.Apply(events)
	}
}

func (e *evictFirst) Evict(need int64, dst []uint64) []uint64 {
	dst = e.p.Evict(need, dst)
	e.release()
	return dst
}

// release applies the insert held back, if any.
func (e *evictFirst) release() {
	if e.hold {
		e.hold = false
		e.p.Apply(e.held[:])
	}
}
