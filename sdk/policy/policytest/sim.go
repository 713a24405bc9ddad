// Package policytest drives a [policy.Policy] natively the way a distcache
// group does, so a plugin's algorithm can be tested and measured with go
// test before it is built to WebAssembly.
package policytest

import (
	"github.com/distcache/distcache/sdk/policy"
)

// maxPending is how many events a group buffers before it applies them
// even when no eviction asks for them (as server/cache does).
const maxPending = 1024

// Sim is a cache of capacity bytes that holds only hashes and costs and
// asks a policy what to evict, following the host's protocol: events are
// buffered and applied in order before every eviction; a newcomer is
// announced as an insert before the policy is asked for room; a policy
// that names the newcomer refuses it; and when a policy names nothing the
// cache holds, the Sim evicts an entry itself, sends a remove and counts a
// fallback. The zero value is not ready; use [NewSim]. Not safe for
// concurrent use.
type Sim struct {
	p        policy.Policy
	capacity int64
	resident map[uint64]int64
	bytes    int64
	pending  []policy.Event
	victims  []uint64
	stats    Stats
}

// Stats counts what a [Sim] did.
type Stats struct {
	Hits, Misses uint64
	// Evictions counts entries evicted on the policy's advice.
	Evictions uint64
	// Rejections counts newcomers the policy refused.
	Rejections uint64
	// Fallbacks counts entries the Sim evicted itself because the policy
	// named nothing it held.
	Fallbacks uint64
	// Unknown counts victims the Sim did not hold: the policy's view of
	// the cache has drifted from the host's.
	Unknown uint64
	// Short counts Evict calls whose victims freed less than asked while
	// not refusing the newcomer.
	Short uint64
}

// HitRatio returns Hits / (Hits + Misses), or 0 before any request.
func (s Stats) HitRatio() float64 {
	if s.Hits+s.Misses == 0 {
		return 0
	}
	return float64(s.Hits) / float64(s.Hits+s.Misses)
}

// NewSim returns an empty Sim of capacity bytes driving p.
func NewSim(p policy.Policy, capacity int64) *Sim {
	return &Sim{p: p, capacity: capacity, resident: make(map[uint64]int64)}
}

// Stats returns the counts so far.
func (s *Sim) Stats() Stats { return s.stats }

// Len returns the number of resident entries.
func (s *Sim) Len() int { return len(s.resident) }

// Bytes returns the sum of the resident entries' costs.
func (s *Sim) Bytes() int64 { return s.bytes }

// Contains reports whether h is resident.
func (s *Sim) Contains(h uint64) bool {
	_, ok := s.resident[h]
	return ok
}

// Get is a read through the cache: a hit records an access; a miss loads
// the entry with cost bytes and stores it, as a group does. It reports
// whether it was a hit.
func (s *Sim) Get(h uint64, cost int64) bool {
	if _, ok := s.resident[h]; ok {
		s.stats.Hits++
		s.add(policy.Event{Op: policy.OpAccess, Hash: h})
		return true
	}
	s.stats.Misses++
	s.Set(h, cost)
	return false
}

// Set stores h with cost bytes, replacing a resident entry. It reports
// whether the entry was admitted. An entry larger than the capacity is
// refused without telling the policy, as a group does.
func (s *Sim) Set(h uint64, cost int64) bool {
	if cost > s.capacity {
		return false
	}
	op := policy.OpInsert
	old, replacing := s.resident[h]
	if replacing {
		op = policy.OpUpdate
	}
	s.add(policy.Event{Op: op, Hash: h, Cost: cost})
	if !s.makeRoom(h, cost) {
		s.stats.Rejections++
		return false
	}
	s.bytes += cost - old
	s.resident[h] = cost
	return true
}

// Remove deletes h, as a Delete or an expiry does, and tells the policy.
func (s *Sim) Remove(h uint64) {
	cost, ok := s.resident[h]
	if !ok {
		return
	}
	delete(s.resident, h)
	s.bytes -= cost
	s.add(policy.Event{Op: policy.OpRemove, Hash: h})
}

// Flush applies the buffered events now.
func (s *Sim) Flush() {
	if len(s.pending) > 0 {
		s.p.Apply(s.pending)
		s.pending = s.pending[:0]
	}
}

func (s *Sim) add(ev policy.Event) {
	s.pending = append(s.pending, ev)
	if len(s.pending) >= maxPending {
		s.Flush()
	}
}

// makeRoom evicts until cost bytes fit under h. It returns false if the
// policy named h itself.
func (s *Sim) makeRoom(h uint64, cost int64) bool {
	for {
		over := s.bytes - s.resident[h] + cost - s.capacity
		if over <= 0 {
			return true
		}
		s.Flush()
		s.victims = s.p.Evict(over, s.victims[:0])
		freed, rejected := int64(0), false
		for _, v := range s.victims {
			if v == h {
				rejected = true
			}
			c, ok := s.resident[v]
			if !ok {
				if v != h {
					s.stats.Unknown++
				}
				continue
			}
			delete(s.resident, v)
			s.bytes -= c
			freed += c
			s.stats.Evictions++
		}
		if rejected {
			return false
		}
		if freed < over {
			s.stats.Short++
		}
		if freed == 0 {
			s.evictAny(h)
		}
	}
}

// evictAny evicts the resident entry with the smallest hash other than
// except (deterministic, unlike map order) and tells the policy.
func (s *Sim) evictAny(except uint64) {
	var pick uint64
	found := false
	for h := range s.resident {
		if h != except && (!found || h < pick) {
			pick, found = h, true
		}
	}
	if !found {
		pick, found = except, s.Contains(except)
	}
	if !found {
		return
	}
	s.stats.Fallbacks++
	s.Remove(pick)
	s.Flush()
}
