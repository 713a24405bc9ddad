package main

import (
	"github.com/distcache/distcache/sdk/policy"
	"github.com/distcache/distcache/sdk/policy/hashlist"
)

// The lists of ARC, used as node tags.
const (
	t1 = iota // resident, seen once recently
	t2        // resident, seen at least twice
	b1        // ghosts of entries evicted from t1
	b2        // ghosts of entries evicted from t2
)

// ARC is the Adaptive Replacement Cache of Megiddo and Modha (FAST 2003):
// resident entries seen once (T1) and more (T2), ghost lists of the keys
// recently evicted from each (B1, B2), and a target size p for T1 that a
// ghost hit moves towards the list that would have kept the entry.
//
// It follows github.com/hashicorp/golang-lru/arc/v2's ARCCache, which
// trims the ghost lists differently from the paper: each ghost list is an
// LRU bounded by the capacity, and a plain miss drops at most one ghost
// from B1 if it exceeds c-p and one from B2 if it exceeds p. With every
// cost 1 and a capacity of c, this ARC makes the same hit and miss
// decisions as hashicorp's ARCCache of size c, as long as that one holds
// at most c entries: hashicorp holds c+1 after a B1 ghost hit that finds
// T1 holding all c entries with p reaching c (its REPLACE then picks the
// empty T2 and evicts nothing), which a host never allows, so this ARC
// evicts T1's LRU entry instead and the two part ways from there.
//
// Everything is counted in bytes: the capacity, p, and the sizes of the
// four lists are sums of costs. A ghost hit moves p by its cost, times the
// ratio of the ghost lists' sizes when the other list is the bigger, and a
// miss trims each ghost list by at most its cost. With unit costs these
// are the entry-count rules.
//
// An update is a use, as a second Add is in hashicorp's. The zero value
// is not ready; use [NewARC]. Not safe for concurrent use.
type ARC struct {
	a        hashlist.Arena
	lists    [4]hashlist.List
	capacity int64
	p        int64 // target size of T1
	pend     newcomer
}

// newcomer is an insert whose REPLACE may still be asked for. The paper
// (and hashicorp's Add) makes room before adding the newcomer; the host
// announces the newcomer first. So an insert is held here, outside the
// lists, until Evict has run REPLACE without it, or another event shows
// no room was needed.
type newcomer struct {
	hash   uint64
	cost   int64
	from   uint32 // b1 or b2 for a ghost hit, t1 for a miss
	active bool
}

var _ policy.Policy = (*ARC)(nil)

// NewARC returns an empty ARC for a cache of capacity bytes.
func NewARC(capacity int64) *ARC { return &ARC{capacity: max(capacity, 1)} }

// Len returns the number of resident entries the ARC tracks.
func (p *ARC) Len() int {
	n := p.lists[t1].Len() + p.lists[t2].Len()
	if p.pend.active {
		n++
	}
	return n
}

// Target returns p, the size T1 is steered towards, in bytes.
func (p *ARC) Target() int64 { return p.p }

// Apply implements [policy.Policy].
func (p *ARC) Apply(events []policy.Event) {
	for _, ev := range events {
		p.settle()
		r, ok := p.a.Lookup(ev.Hash)
		resident := ok && p.a.Tag(r) <= t2
		switch {
		case ev.Op == policy.OpAccess && resident:
			p.hit(r, p.a.Cost(r))
		case (ev.Op == policy.OpInsert || ev.Op == policy.OpUpdate) && resident:
			p.hit(r, ev.Cost)
		case ev.Op == policy.OpInsert || ev.Op == policy.OpUpdate:
			p.insert(r, ok, ev.Hash, ev.Cost)
		case ev.Op == policy.OpRemove && resident:
			p.lists[p.a.Tag(r)].Remove(&p.a, r)
			p.a.Delete(r)
		}
	}
}

// hit is case I of the paper: a resident entry moves to T2's MRU end.
func (p *ARC) hit(r hashlist.Ref, cost int64) {
	p.lists[p.a.Tag(r)].Remove(&p.a, r)
	p.a.SetTag(r, t2)
	p.lists[t2].PushNewest(&p.a, r)
	p.lists[t2].SetCost(&p.a, r, cost)
}

// insert adapts p on a ghost hit (cases II and III) and holds the
// newcomer until its room is settled.
func (p *ARC) insert(r hashlist.Ref, ghost bool, h uint64, cost int64) {
	p.pend = newcomer{hash: h, cost: cost, from: t1, active: true}
	if !ghost {
		return
	}
	g1, g2 := p.lists[b1].Cost(), p.lists[b2].Cost()
	switch p.pend.from = p.a.Tag(r); p.pend.from {
	case b1:
		p.p = min(p.p+delta(cost, g2, g1, p.capacity), p.capacity)
	case b2:
		p.p = max(p.p-delta(cost, g1, g2, p.capacity), 0)
	}
}

// delta is how far a ghost hit of cost moves p: cost, or cost times
// other/own when the other ghost list is the bigger, at most limit.
func delta(cost, other, own, limit int64) int64 {
	if other <= own || own <= 0 {
		return cost
	}
	ratio := other / own
	if cost > 0 && ratio > limit/cost {
		return limit
	}
	return cost * ratio
}
