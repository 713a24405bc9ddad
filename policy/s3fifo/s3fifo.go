package main

import (
	"github.com/distcache/distcache/sdk/policy"
	"github.com/distcache/distcache/sdk/policy/hashlist"
)

// The queues of S3-FIFO, in the low bits of a node's tag; the bits above
// hold a resident entry's frequency.
const (
	inSmall = iota // resident, in S
	inMain         // resident, in M
	inGhost        // evicted from S, remembered by hash and cost in G

	queueBits = 2
	queueMask = 1<<queueBits - 1
	maxFreq   = 3
)

// S3FIFO is the eviction algorithm of Yang et al., "FIFO queues are all
// you need for cache eviction" (SOSP 2023): a small FIFO queue S takes
// newcomers and gets 10% of the capacity, a main one M the rest, and a
// ghost queue G remembers what S evicted, holding up to M's share. A use
// raises an entry's frequency, capped at 3. An entry leaving S is moved
// to M if it was used more than once there, and otherwise evicted into G;
// M is FIFO with reinsertion, putting an entry with a frequency above 0
// back at its head with the frequency less 1. A newcomer found in G goes
// to M. One-hit wonders so leave through S quickly, and entries used
// again are kept.
//
// It follows the paper's Algorithm 1, with the same choices as the
// reference simulation policytest.S3FIFO, whose documentation gives them:
// an entry moving from S to M starts over at frequency 0; M is full when
// it holds more than its share; eviction falls back to M when S is empty
// and to S when M is empty. As the paper states it, it evicts before the
// newcomer is inserted (and asks G for the newcomer after the eviction),
// so it must be registered behind [policy.EvictFirst]: the host
// announces a newcomer before it asks for room, and a newcomer already
// counted in S would trigger evictions from S early and could be its own
// victim. With every cost 1 and a capacity of c entries, the pair makes
// the same decisions as the paper's S3-FIFO of c entries.
//
// Everything is counted in bytes: the capacity, S's share (a tenth of it,
// rounded down), M's (the rest), G's bound (M's share) and the queues'
// sizes are sums of costs, and a ghost keeps the cost its entry had. With
// unit costs these are the entry counts of the paper. Evict runs the
// paper's EVICT until the costs named add up to the bytes needed. Every
// time M puts an entry back costs the entry a use it had, and every move
// from S to M empties S of an entry, so an eviction is O(1) amortized,
// though one may go round M three times, as in the paper. An update is a
// use. The zero value is not ready; use [NewS3FIFO]. Not safe
// for concurrent use.
type S3FIFO struct {
	a          hashlist.Arena
	queues     [3]hashlist.List // newest is a queue's head
	smallShare int64
	mainShare  int64
}

var _ policy.Policy = (*S3FIFO)(nil)

// NewS3FIFO returns an empty S3FIFO for a cache of capacity bytes.
func NewS3FIFO(capacity int64) *S3FIFO {
	capacity = max(capacity, 1)
	return &S3FIFO{smallShare: capacity / 10, mainShare: capacity - capacity/10}
}

// Len returns the number of resident entries the S3FIFO tracks.
func (p *S3FIFO) Len() int { return p.queues[inSmall].Len() + p.queues[inMain].Len() }

// Sizes returns the sums of the costs in S, M and G.
func (p *S3FIFO) Sizes() (s, m, g int64) {
	return p.queues[inSmall].Cost(), p.queues[inMain].Cost(), p.queues[inGhost].Cost()
}

// Apply implements [policy.Policy].
func (p *S3FIFO) Apply(events []policy.Event) {
	for _, ev := range events {
		r, ok := p.a.Lookup(ev.Hash)
		resident := ok && p.a.Tag(r)&queueMask != inGhost
		switch {
		case ev.Op == policy.OpAccess && resident:
			p.use(r)
		case (ev.Op == policy.OpInsert || ev.Op == policy.OpUpdate) && resident:
			p.queues[p.a.Tag(r)&queueMask].SetCost(&p.a, r, ev.Cost)
			p.use(r)
		case ev.Op == policy.OpInsert || ev.Op == policy.OpUpdate:
			q := uint32(inSmall)
			if ok { // a ghost
				p.queues[inGhost].Remove(&p.a, r)
				p.a.Delete(r)
				q = inMain
			}
			p.queues[q].PushNewest(&p.a, p.a.Add(ev.Hash, ev.Cost, q))
		case ev.Op == policy.OpRemove && resident:
			p.queues[p.a.Tag(r)&queueMask].Remove(&p.a, r)
			p.a.Delete(r)
		}
	}
}

// use raises resident r's frequency, up to maxFreq.
func (p *S3FIFO) use(r hashlist.Ref) {
	if t := p.a.Tag(r); t>>queueBits < maxFreq {
		p.a.SetTag(r, t+1<<queueBits)
	}
}

// Evict implements [policy.Policy]: it runs the paper's EVICT until the
// costs of the entries evicted add up to need.
func (p *S3FIFO) Evict(need int64, dst []uint64) []uint64 {
	for need > 0 && p.Len() > 0 {
		var freed int64
		s := &p.queues[inSmall]
		if s.Len() > 0 && (s.Cost() >= p.smallShare || p.queues[inMain].Len() == 0) {
			dst, freed = p.evictSmall(dst)
		} else {
			dst, freed = p.evictMain(dst)
		}
		need -= freed
	}
	return dst
}

// evictSmall is the paper's EVICTS: it moves S's tail to M while it was
// used more than once, evicting from M when M grows past its share, until
// it evicts one into G. It returns the bytes evicted.
func (p *S3FIFO) evictSmall(dst []uint64) ([]uint64, int64) {
	var freed int64
	s, m := &p.queues[inSmall], &p.queues[inMain]
	for s.Len() > 0 {
		t := s.Oldest()
		s.Remove(&p.a, t)
		if p.a.Tag(t)>>queueBits > 1 {
			p.a.SetTag(t, inMain)
			m.PushNewest(&p.a, t)
			if m.Cost() > p.mainShare {
				var f int64
				dst, f = p.evictMain(dst)
				freed += f
			}
			continue
		}
		dst = append(dst, p.a.Hash(t))
		freed += p.a.Cost(t)
		p.a.SetTag(t, inGhost)
		g := &p.queues[inGhost]
		g.PushNewest(&p.a, t)
		for g.Cost() > p.mainShare {
			o := g.Oldest()
			g.Remove(&p.a, o)
			p.a.Delete(o)
		}
		break
	}
	return dst, freed
}

// evictMain is the paper's EVICTM: it puts M's tail back at M's head with
// its frequency less 1 while the frequency is above 0, then evicts it. It
// returns the bytes evicted.
func (p *S3FIFO) evictMain(dst []uint64) ([]uint64, int64) {
	m := &p.queues[inMain]
	for m.Len() > 0 {
		t := m.Oldest()
		if tag := p.a.Tag(t); tag>>queueBits > 0 {
			p.a.SetTag(t, tag-1<<queueBits)
			m.MoveToNewest(&p.a, t)
			continue
		}
		m.Remove(&p.a, t)
		cost := p.a.Cost(t)
		dst = append(dst, p.a.Hash(t))
		p.a.Delete(t)
		return dst, cost
	}
	return dst, 0
}
