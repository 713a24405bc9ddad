package main

import (
	"github.com/distcache/distcache/sdk/policy"
	"github.com/distcache/distcache/sdk/policy/hashlist"
)

// FIFO evicts entries in the order they were inserted, whatever their use.
// Accesses change nothing, and an update keeps the entry's place. Evict
// takes entries from the oldest end until their costs cover the bytes
// needed. The zero value is not ready; use [NewFIFO]. Not safe for
// concurrent use.
type FIFO struct {
	a     hashlist.Arena
	order hashlist.List // newest is the latest insert
}

var _ policy.Policy = (*FIFO)(nil)

// NewFIFO returns an empty FIFO.
func NewFIFO() *FIFO { return &FIFO{} }

// Len returns the number of entries the FIFO tracks.
func (p *FIFO) Len() int { return p.order.Len() }

// Apply implements [policy.Policy].
func (p *FIFO) Apply(events []policy.Event) {
	for _, ev := range events {
		r, ok := p.a.Lookup(ev.Hash)
		switch ev.Op {
		case policy.OpInsert, policy.OpUpdate:
			if ok {
				p.order.SetCost(&p.a, r, ev.Cost)
			} else {
				p.order.PushNewest(&p.a, p.a.Add(ev.Hash, ev.Cost, 0))
			}
		case policy.OpRemove:
			if ok {
				p.order.Remove(&p.a, r)
				p.a.Delete(r)
			}
		}
	}
}

// Evict implements [policy.Policy]: it names the oldest inserts until
// their costs add up to need.
func (p *FIFO) Evict(need int64, dst []uint64) []uint64 {
	return p.order.EvictOldest(&p.a, need, dst)
}
