package main

import (
	"github.com/distcache/distcache/sdk/policy"
	"github.com/distcache/distcache/sdk/policy/hashlist"
)

// SIEVE is the eviction algorithm of Zhang et al., "SIEVE is Simpler than
// LRU: an Efficient Turn-Key Eviction Algorithm for Web Caches" (NSDI
// 2024): entries sit in a FIFO queue, newcomers at its head, each with a
// visited bit that a use sets. A hand moves from the tail towards the
// head, clearing the bits it passes, and evicts the first entry it finds
// unvisited; it stays where it stopped, and goes back to the tail after
// the head. Popular entries are kept in place rather than moved, and a
// newcomer that is not used again is evicted on the hand's next pass.
//
// It is written the way the paper states it, evicting before the newcomer
// is inserted, so it must be registered behind [policy.EvictFirst]. The
// host announces a newcomer before it asks for room, and a newcomer
// already at the head changes where the hand goes: a hand that reaches
// the head would evict the newcomer where the paper's goes back to the
// tail, and a hand that stops just below the head would be left on the
// newcomer rather than at the tail. With every cost 1 and a capacity of c
// entries, the pair makes the same decisions as the paper's SIEVE of c
// entries (policytest.SIEVE).
//
// Evict takes entries until their costs cover the bytes needed. Every
// entry the hand passes over was used since the hand last passed it, so
// an eviction is O(1) amortized, though one may pass over every entry, as
// in the paper. An update is a use. A removed entry under the hand moves the hand one entry
// towards the head. The zero value is not ready; use [NewSIEVE]. Not safe
// for concurrent use.
type SIEVE struct {
	a     hashlist.Arena // a node's tag is its visited bit
	queue hashlist.List  // newest is the head, where newcomers go
	hand  hashlist.Ref   // the next entry the hand looks at, or Nil for the tail
}

var _ policy.Policy = (*SIEVE)(nil)

// NewSIEVE returns an empty SIEVE.
func NewSIEVE() *SIEVE { return &SIEVE{} }

// Len returns the number of entries the SIEVE tracks.
func (p *SIEVE) Len() int { return p.queue.Len() }

// Apply implements [policy.Policy].
func (p *SIEVE) Apply(events []policy.Event) {
	for _, ev := range events {
		r, ok := p.a.Lookup(ev.Hash)
		switch ev.Op {
		case policy.OpAccess:
			if ok {
				p.a.SetTag(r, 1)
			}
		case policy.OpInsert, policy.OpUpdate:
			if !ok {
				p.queue.PushNewest(&p.a, p.a.Add(ev.Hash, ev.Cost, 0))
				continue
			}
			p.queue.SetCost(&p.a, r, ev.Cost)
			p.a.SetTag(r, 1)
		case policy.OpRemove:
			if ok {
				if r == p.hand {
					p.hand = p.a.Newer(r)
				}
				p.queue.Remove(&p.a, r)
				p.a.Delete(r)
			}
		}
	}
}

// Evict implements [policy.Policy]: it moves the hand to the first
// unvisited entry, clearing visited bits on the way, and names it, until
// the costs named add up to need.
func (p *SIEVE) Evict(need int64, dst []uint64) []uint64 {
	for need > 0 && p.queue.Len() > 0 {
		o := p.hand
		if o == hashlist.Nil {
			o = p.queue.Oldest()
		}
		for p.a.Tag(o) != 0 {
			p.a.SetTag(o, 0)
			if o = p.a.Newer(o); o == hashlist.Nil {
				o = p.queue.Oldest()
			}
		}
		p.hand = p.a.Newer(o)
		need -= p.a.Cost(o)
		dst = append(dst, p.a.Hash(o))
		p.queue.Remove(&p.a, o)
		p.a.Delete(o)
	}
	return dst
}
