package main

import (
	"github.com/distcache/distcache/sdk/policy"
	"github.com/distcache/distcache/sdk/policy/hashlist"
)

// LFU evicts the least frequently used entries first, breaking ties by
// least recent use, in O(1) per event: entries of equal count share a
// bucket, and buckets are linked in ascending count. An insert counts one
// use and every access or update one more.
//
// Counts age as TinyLFU's sketch does (Einziger, Friedman and Manes,
// 2017): after 10 uses per entry tracked (10 × [LFU.Len] accesses,
// inserts and updates) every count is halved, rounded down. Old
// popularity so fades, and a working set that has moved on is evicted
// within a few such periods, where counts that never aged would keep it
// resident for good while the new working set's entries evict each other.
// Entries halved to 0 rank below newcomers.
//
// Halving keeps the order of the counts, but makes pairs of neighbouring
// buckets equal (2k and 2k+1 both become k). Such twins are merged, the
// entries of the formerly lower one first to go, 4 entries per use rather
// than all at once, so that no call pauses to move millions of entries
// (natively, about 10 ns an entry moved): until then a use or an insert goes to
// the upper twin, and evictions take the lower twin's entries first, which
// is the merged bucket's order. The merging is done within a quarter of
// [LFU.Len] uses, long before the next halving.
//
// Evict takes entries until their costs cover the bytes needed, sparing
// the newcomer (an insert that was the latest event) unless nothing else
// is left, so that a newcomer is not refused just for being new. The zero
// value is not ready; use [NewLFU]. Not safe for concurrent use.
type LFU struct {
	a       hashlist.Arena // a node's tag is the index of its bucket
	buckets []bucket       // buckets[0] is unused: index 0 means none
	spare   []uint32       // indices of unused buckets
	lowest  uint32         // the bucket of the lowest count, or 0
	newest  uint64         // the hash of the latest insert
	fresh   bool           // whether the latest event was that insert
	uses    uint64         // uses counted since the last halving
	merging uint32         // the next bucket to merge into its twin below, or 0 when none is left
}

const (
	// agingPeriod is how many uses per entry tracked pass between halvings
	// of the counts: TinyLFU's sample of 10 × the entries.
	agingPeriod = 10
	// mergeStep is how many entries are moved between twins per use.
	mergeStep = 4
)

// bucket holds the entries whose count is freq, newest most recently
// used.
type bucket struct {
	freq          uint64
	items         hashlist.List
	higher, lower uint32
}

var _ policy.Policy = (*LFU)(nil)

// NewLFU returns an empty LFU.
func NewLFU() *LFU { return &LFU{buckets: make([]bucket, 1)} }

// Len returns the number of entries the LFU tracks.
func (p *LFU) Len() int { return p.a.Len() }

// Apply implements [policy.Policy].
func (p *LFU) Apply(events []policy.Event) {
	for _, ev := range events {
		p.fresh = false
		r, ok := p.a.Lookup(ev.Hash)
		switch ev.Op {
		case policy.OpAccess:
			if !ok {
				continue
			}
			p.touch(r)
		case policy.OpInsert, policy.OpUpdate:
			if ok {
				p.buckets[p.a.Tag(r)].items.SetCost(&p.a, r, ev.Cost)
				p.touch(r)
			} else {
				p.insert(ev.Hash, ev.Cost)
			}
		case policy.OpRemove:
			if ok {
				p.unlink(r)
				p.a.Delete(r)
			}
			continue
		}
		if p.merging != 0 {
			p.merge(mergeStep)
		}
		if p.uses++; p.uses >= agingPeriod*uint64(p.a.Len()) {
			p.halve()
		}
	}
}

// Evict implements [policy.Policy]: it names entries from the lowest
// count up, least recently used first within one.
func (p *LFU) Evict(need int64, dst []uint64) []uint64 {
	for need > 0 {
		r := p.victim()
		if r == hashlist.Nil {
			break
		}
		need -= p.a.Cost(r)
		dst = append(dst, p.a.Hash(r))
		p.unlink(r)
		p.a.Delete(r)
	}
	return dst
}

// victim returns the coldest entry other than the newcomer, or the
// newcomer if it is the only entry left.
func (p *LFU) victim() hashlist.Ref {
	for b := p.lowest; b != 0; b = p.buckets[b].higher {
		for r := p.buckets[b].items.Oldest(); r != hashlist.Nil; r = p.a.Newer(r) {
			if !p.fresh || p.a.Hash(r) != p.newest {
				return r
			}
		}
	}
	if r, ok := p.a.Lookup(p.newest); ok && p.fresh {
		p.fresh = false
		return r
	}
	return hashlist.Nil
}

func (p *LFU) insert(h uint64, cost int64) {
	b := p.place(0, p.lowest, 1)
	p.buckets[b].items.PushNewest(&p.a, p.a.Add(h, cost, b))
	p.newest, p.fresh = h, true
}

// touch counts a use of r: it moves to the bucket of the next count.
func (p *LFU) touch(r hashlist.Ref) {
	b := p.a.Tag(r)
	next := p.place(b, p.buckets[b].higher, p.buckets[b].freq+1)
	p.unlink(r)
	p.a.SetTag(r, next)
	p.buckets[next].items.PushNewest(&p.a, r)
}

// place returns the bucket where an entry of count freq goes, linking a
// new one if there is none, looking up from lower (0 for none) and its
// higher neighbour, the buckets up to which hold smaller counts. Of twins
// of count freq it is the upper, which the merge puts last.
func (p *LFU) place(lower, higher uint32, freq uint64) uint32 {
	for higher != 0 && p.buckets[higher].freq <= freq {
		lower, higher = higher, p.buckets[higher].higher
	}
	if lower != 0 && p.buckets[lower].freq == freq {
		return lower
	}
	return p.newBucket(freq, lower, higher)
}

// unlink takes r out of its bucket, and drops the bucket if it empties.
func (p *LFU) unlink(r hashlist.Ref) {
	b := p.a.Tag(r)
	p.buckets[b].items.Remove(&p.a, r)
	if p.buckets[b].items.Len() == 0 {
		p.drop(b)
	}
}

// drop unlinks empty bucket b from the others and keeps it for reuse.
func (p *LFU) drop(b uint32) {
	lo, hi := p.buckets[b].lower, p.buckets[b].higher
	if lo != 0 {
		p.buckets[lo].higher = hi
	} else {
		p.lowest = hi
	}
	if hi != 0 {
		p.buckets[hi].lower = lo
	}
	if p.merging == b {
		p.merging = hi
	}
	p.buckets[b] = bucket{}
	p.spare = append(p.spare, b)
}

// newBucket links an empty bucket of count freq between lower and higher
// (0 for none) and returns its index.
func (p *LFU) newBucket(freq uint64, lower, higher uint32) uint32 {
	var b uint32
	if n := len(p.spare); n > 0 {
		b, p.spare = p.spare[n-1], p.spare[:n-1]
	} else {
		b = uint32(len(p.buckets))
		p.buckets = append(p.buckets, bucket{})
	}
	p.buckets[b] = bucket{freq: freq, lower: lower, higher: higher}
	if lower != 0 {
		p.buckets[lower].higher = b
	} else {
		p.lowest = b
	}
	if higher != 0 {
		p.buckets[higher].lower = b
	}
	return b
}

// halve halves every count, rounded down, and starts merging the twins
// that makes from the lowest bucket up. A merge still under way is
// finished first, so that twins are never more than two.
func (p *LFU) halve() {
	p.uses = 0
	for p.merging != 0 {
		p.merge(p.a.Len())
	}
	for b := p.lowest; b != 0; b = p.buckets[b].higher {
		p.buckets[b].freq >>= 1
	}
	p.merging = p.lowest
}

// merge moves up to n entries from an upper twin to the newest end of the
// lower one, dropping the upper when it empties, and skips past buckets
// with no twin below, until n entries are moved or every bucket is merged.
func (p *LFU) merge(n int) {
	for b := p.merging; b != 0 && n > 0; b = p.merging {
		lo := p.buckets[b].lower
		if lo == 0 || p.buckets[lo].freq != p.buckets[b].freq {
			p.merging = p.buckets[b].higher
			continue
		}
		items := &p.buckets[b].items
		for ; n > 0 && items.Len() > 0; n-- {
			r := items.Oldest()
			items.Remove(&p.a, r)
			p.a.SetTag(r, lo)
			p.buckets[lo].items.PushNewest(&p.a, r)
		}
		if items.Len() == 0 {
			p.drop(b) // moves p.merging on
		}
	}
}
