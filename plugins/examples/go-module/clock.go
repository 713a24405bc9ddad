package main

import (
	"github.com/distcache/distcache/sdk/policy"
	"github.com/distcache/distcache/sdk/policy/hashlist"
)

// Clock is the CLOCK policy, written as a second-chance FIFO: entries
// wait in the order they were inserted, and the one at the oldest end is
// evicted unless it was read since it got there; then it loses its mark
// and goes to the newest end instead. The zero value is ready. Not safe
// for concurrent use (a host never calls a policy concurrently).
type Clock struct {
	a    hashlist.Arena // one node per entry; its tag is the read mark
	ring hashlist.List  // the oldest end is under the clock's hand
}

// read is the tag of an entry read since the hand last passed it.
const read = 1

var _ policy.Policy = (*Clock)(nil)

// Apply implements [policy.Policy].
func (c *Clock) Apply(events []policy.Event) {
	for _, ev := range events {
		r, ok := c.a.Lookup(ev.Hash)
		switch ev.Op {
		case policy.OpAccess:
			if ok {
				c.a.SetTag(r, read)
			}
		case policy.OpInsert, policy.OpUpdate:
			if ok {
				c.ring.SetCost(&c.a, r, ev.Cost)
			} else {
				c.ring.PushNewest(&c.a, c.a.Add(ev.Hash, ev.Cost, 0))
			}
		case policy.OpRemove:
			if ok {
				c.ring.Remove(&c.a, r)
				c.a.Delete(r)
			}
		}
	}
}

// Evict implements [policy.Policy]. Each step either evicts an entry or
// clears a mark, so it ends within two laps of the ring.
func (c *Clock) Evict(need int64, dst []uint64) []uint64 {
	for need > 0 && c.ring.Len() > 0 {
		r := c.ring.Oldest()
		if c.a.Tag(r) == read {
			c.a.SetTag(r, 0)
			c.ring.MoveToNewest(&c.a, r)
			continue
		}
		need -= c.a.Cost(r)
		dst = append(dst, c.a.Hash(r))
		c.ring.Remove(&c.a, r) // forget it: the host sends no remove for victims
		c.a.Delete(r)
	}
	return dst
}
