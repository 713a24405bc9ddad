package main

import (
	"github.com/distcache/distcache/sdk/policy"
	"github.com/distcache/distcache/sdk/policy/hashlist"
)

// LRU evicts the least recently used entries first, exactly, and weighs
// them by cost: Evict takes entries from the cold end until their costs
// cover the bytes needed. An update counts as a use. The zero value is not
// ready; use [NewLRU]. Not safe for concurrent use.
type LRU struct {
	a     hashlist.Arena
	order hashlist.List // newest is the most recently used
}

var _ policy.Policy = (*LRU)(nil)

// NewLRU returns an empty LRU.
func NewLRU() *LRU { return &LRU{} }

// Len returns the number of entries the LRU tracks.
func (p *LRU) Len() int { return p.order.Len() }

// Apply implements [policy.Policy].
func (p *LRU) Apply(events []policy.Event) {
	for _, ev := range events {
		r, ok := p.a.Lookup(ev.Hash)
		switch ev.Op {
		case policy.OpAccess:
			if ok {
				p.order.MoveToNewest(&p.a, r)
			}
		case policy.OpInsert, policy.OpUpdate:
			if !ok {
				p.order.PushNewest(&p.a, p.a.Add(ev.Hash, ev.Cost, 0))
				continue
			}
			p.order.SetCost(&p.a, r, ev.Cost)
			p.order.MoveToNewest(&p.a, r)
		case policy.OpRemove:
			if ok {
				p.order.Remove(&p.a, r)
				p.a.Delete(r)
			}
		}
	}
}

// Evict implements [policy.Policy]: it names the least recently used
// entries until their costs add up to need.
func (p *LRU) Evict(need int64, dst []uint64) []uint64 {
	return p.order.EvictOldest(&p.a, need, dst)
}
