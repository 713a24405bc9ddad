// Package policytest drives a [policy.Policy] natively the way a distcache
// group does, so a plugin's algorithm can be tested and measured with go
// test before it is built to WebAssembly.
//
// [Sim] is the cache that drives a policy; [Check] runs random workloads
// through one and reports every way it broke the protocol; [Compare]
// replays a trace through one and through a [Reference], a textbook
// simulation of an algorithm as published ([LRU], [FIFO], [CLOCK],
// [SIEVE], [S3FIFO]), and reports whether their hits differ. [Traces]
// gives traces to compare on.
package policytest

import (
	"github.com/distcache/distcache/sdk/policy"
	"github.com/distcache/distcache/sdk/policy/evict"
)

// Sim is a cache of capacity bytes that holds only hashes and costs and
// asks a policy what to evict under the host's own rules ([evict.Rules],
// which the node's groups and the replay tool use too): events are
// buffered and applied in order before every eviction; a newcomer is
// announced as an insert before the policy is asked for room; a policy
// that names the newcomer refuses it; and when a policy names nothing the
// cache holds, the Sim evicts an entry itself, sends a remove and counts a
// fallback. The zero value is not ready; use [NewSim]. Not safe for
// concurrent use.
type Sim struct {
	c *evict.Cache
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
	return &Sim{c: evict.NewCache(p, capacity, 0)}
}

// Stats returns the counts so far.
func (s *Sim) Stats() Stats {
	r := s.c.Rules().Stats()
	return Stats{
		Hits: s.c.Hits(), Misses: s.c.Misses(),
		Evictions: r.Evictions, Rejections: r.Rejections, Fallbacks: r.Fallbacks,
		Unknown: r.Unknown, Short: r.Short,
	}
}

// Len returns the number of resident entries.
func (s *Sim) Len() int { return s.c.Residents().Len() }

// Bytes returns the sum of the resident entries' costs.
func (s *Sim) Bytes() int64 { return s.c.Residents().Bytes() }

// Contains reports whether h is resident.
func (s *Sim) Contains(h uint64) bool { return s.c.Residents().Contains(h) }

// Get is a read through the cache: a hit records an access; a miss loads
// the entry with cost bytes and stores it, as a group does. It reports
// whether it was a hit.
func (s *Sim) Get(h uint64, cost int64) bool { return s.c.Get(h, cost) }

// Set stores h with cost bytes, replacing a resident entry. It reports
// whether the entry was admitted. An entry larger than the capacity is
// refused without telling the policy, as a group does.
func (s *Sim) Set(h uint64, cost int64) bool { return s.c.Set(h, cost, false) }

// Remove deletes h, as a Delete or an expiry does, and tells the policy.
func (s *Sim) Remove(h uint64) { s.c.Remove(h) }

// Flush applies the buffered events now.
func (s *Sim) Flush() { s.c.Flush() }
