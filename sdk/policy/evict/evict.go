// Package evict holds the host's eviction rules: how a cache tells a
// [policy.Policy] what happened and asks it for room. The node's cache
// groups, the replay tool and [policytest] all drive policies through it,
// so a policy sees the same calls offline as in a node, and a hit ratio
// measured offline is the one a node gets.
//
// The rules, in order:
//
//  1. Events are buffered and applied in order, at the latest when 1,024
//     are waiting and always before the policy is asked for victims.
//  2. A newcomer is announced (an insert, or an update when its hash is
//     resident) before the policy is asked for room.
//  3. The policy is asked for the bytes the cache is over its capacity
//     with the newcomer counted. Victims it names that the cache does not
//     hold are ignored and counted as unknown.
//  4. A victim equal to the newcomer refuses it: it is not stored. A
//     forced newcomer (a write the cache acknowledged) is announced again
//     after the refusal and room is made from other entries.
//  5. When the victims free nothing, the cache evicts an entry of its own
//     choosing ([Store.Any]), tells the policy with a remove and counts a
//     fallback, so a misbehaving policy cannot make a cache exceed its
//     capacity.
//
// [policytest]: https://pkg.go.dev/github.com/distcache/distcache/sdk/policy/policytest
package evict

import "github.com/distcache/distcache/sdk/policy"

// MaxPending is how many events wait before they are applied even when no
// eviction asks for them. It is also the ABI's max_events.
const MaxPending = 1024

// Store is the cache side of the rules: what it holds and how it lets go
// of an entry. The rules call it with their caller's lock held.
type Store interface {
	// Bytes returns the sum of the resident entries' costs.
	Bytes() int64
	// Cost returns resident h's cost, or false if h is not resident.
	Cost(h uint64) (int64, bool)
	// Evict removes resident h and returns its cost, or false if h is not
	// resident. fallback is true when the rules chose h themselves (rule
	// 5) rather than the policy.
	Evict(h uint64, fallback bool) (int64, bool)
	// Any returns a resident hash other than except, or false if there is
	// none: the victim of a fallback.
	Any(except uint64) (uint64, bool)
}

// Stats counts what the rules saw a policy do.
type Stats struct {
	// Evictions counts entries evicted on the policy's advice.
	Evictions uint64
	// Rejections counts newcomers the policy refused.
	Rejections uint64
	// Fallbacks counts entries evicted by the cache's own choice because
	// the policy named nothing it held.
	Fallbacks uint64
	// Unknown counts victims the cache did not hold: the policy's view of
	// the cache has drifted from the cache's.
	Unknown uint64
	// Short counts Evict calls whose victims freed less than asked while
	// not refusing the newcomer.
	Short uint64
}

// Rules applies the eviction rules between one cache and its policy. The
// zero value is not ready; use [New]. Not safe for concurrent use: the
// cache calls it under its policy lock.
type Rules struct {
	policy   policy.Policy
	capacity int64
	pending  []policy.Event
	victims  []uint64
	stats    Stats
}

// New returns the rules for a cache of capacity bytes driving p.
func New(p policy.Policy, capacity int64) *Rules {
	return &Rules{policy: p, capacity: capacity, pending: make([]policy.Event, 0, MaxPending)}
}

// Policy returns the policy the rules drive.
func (r *Rules) Policy() policy.Policy { return r.policy }

// Capacity returns the cache's capacity in bytes.
func (r *Rules) Capacity() int64 { return r.capacity }

// Stats returns the counts so far.
func (r *Rules) Stats() Stats { return r.stats }

// Add buffers ev, applying the buffer when it is full.
func (r *Rules) Add(ev policy.Event) {
	r.pending = append(r.pending, ev)
	if len(r.pending) >= MaxPending {
		r.Flush()
	}
}

// Access buffers a read of resident h.
func (r *Rules) Access(h uint64) { r.Add(policy.Event{Op: policy.OpAccess, Hash: h}) }

// Removed buffers the news that h left the cache other than as a victim:
// deleted, expired or purged.
func (r *Rules) Removed(h uint64) { r.Add(policy.Event{Op: policy.OpRemove, Hash: h}) }

// AppendEvents lets fn append events (such as a read buffer's accesses) to
// the buffer, and applies it if that filled it.
func (r *Rules) AppendEvents(fn func([]policy.Event) []policy.Event) {
	r.pending = fn(r.pending)
	if len(r.pending) >= MaxPending {
		r.Flush()
	}
}

// Flush applies the buffered events now.
func (r *Rules) Flush() {
	if len(r.pending) == 0 {
		return
	}
	r.policy.Apply(r.pending)
	clear(r.pending)
	r.pending = r.pending[:0]
}

// Put announces h with cost bytes and makes room for it in s. It reports
// whether the caller may store it; the caller then stores it (replacing a
// resident h) without telling the rules again. A newcomer the policy
// refuses is not stored unless force is set (rule 4); a resident h the
// policy names is gone from s either way. An entry of more than the
// capacity is the caller's to refuse before it calls Put.
func (r *Rules) Put(s Store, h uint64, cost int64, force bool) bool {
	op := policy.OpInsert
	if _, ok := s.Cost(h); ok {
		op = policy.OpUpdate
	}
	r.pending = append(r.pending, policy.Event{Op: op, Hash: h, Cost: cost})
	refused := false
	for {
		resident, _ := s.Cost(h)
		over := s.Bytes() - resident + cost - r.capacity
		if over <= 0 {
			break
		}
		r.Flush()
		freed, rejected := r.evict(s, over, h)
		if rejected {
			if !force {
				r.stats.Rejections++
				return false
			}
			refused = true
		}
		if freed < over && !rejected {
			r.stats.Short++
		}
		if freed == 0 && !r.fallback(s, h) {
			break // nothing else to evict: the entry fits alone
		}
	}
	if refused {
		// The policy forgot h when it named it; it must hear of it again.
		r.pending = append(r.pending, policy.Event{Op: policy.OpInsert, Hash: h, Cost: cost})
	}
	if len(r.pending) >= MaxPending {
		r.Flush()
	}
	return true
}

// evict asks the policy for need bytes and evicts the victims s holds. It
// returns the bytes freed and whether the policy named the newcomer h.
func (r *Rules) evict(s Store, need int64, h uint64) (freed int64, rejected bool) {
	r.victims = r.policy.Evict(need, r.victims[:0])
	for _, v := range r.victims {
		if v == h {
			rejected = true
		}
		if c, ok := s.Evict(v, false); ok {
			freed += c
			r.stats.Evictions++
		} else if v != h {
			r.stats.Unknown++
		}
	}
	return freed, rejected
}

// fallback evicts an entry of s's choosing other than h, tells the policy
// and applies that at once. It returns false when there is none.
func (r *Rules) fallback(s Store, h uint64) bool {
	v, ok := s.Any(h)
	if !ok {
		return false
	}
	if _, ok := s.Evict(v, true); !ok {
		return false
	}
	r.stats.Fallbacks++
	r.pending = append(r.pending, policy.Event{Op: policy.OpRemove, Hash: v})
	r.Flush()
	return true
}

// Replace makes p the policy, after applying the buffered events to the
// old one, and announces every resident entry to p as an insert, in the
// order each gives. It returns the old policy.
func (r *Rules) Replace(p policy.Policy, each func(yield func(h uint64, cost int64))) policy.Policy {
	r.Flush()
	old := r.policy
	r.policy = p
	var batch []policy.Event
	each(func(h uint64, cost int64) {
		batch = append(batch, policy.Event{Op: policy.OpInsert, Hash: h, Cost: cost})
	})
	if len(batch) > 0 {
		p.Apply(batch)
	}
	return old
}
