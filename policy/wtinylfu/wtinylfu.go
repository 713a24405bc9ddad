package main

import (
	"github.com/distcache/distcache/sdk/policy"
	"github.com/distcache/distcache/sdk/policy/hashlist"
)

// The segments of the cache, used as node tags.
const (
	window    = iota // an LRU that every newcomer enters
	probation        // main space: entries on trial, the first to go
	protected        // main space: entries used again while on probation
)

const (
	// percentMain is the share of the capacity the main space starts with.
	percentMain = 0.99
	// percentProtected is the share of the main space that is protected.
	percentProtected = 0.80
	// maxSketchEntries bounds the entries the sketch is sized for, and so
	// its sample, whatever the capacity.
	maxSketchEntries = 1 << 21
)

// WTinyLFU is W-TinyLFU (Einziger, Friedman and Manes, "TinyLFU: A Highly
// Efficient Cache Admission Policy", ACM ToS 2017) as Caffeine and otter
// run it. A newcomer enters a small LRU window. An entry that leaves the
// window is a candidate for the main space, a segmented LRU (probation and
// protected); when main is full, the candidate and probation's LRU entry
// compete, and the one a count-min sketch says was used less often
// recently is evicted: ties go to the incumbent, so a scan cannot flush the
// cache. A candidate with a frequency of 6 or more also gets in by a 1/128
// chance, so that an attacker cannot keep hot entries out by flooding
// their hash.
//
// The window's share adapts by hill climbing (Caffeine's climber): every
// sample of about ten times the entries (but at least 4,096 requests), the
// hit rate is compared with the previous sample's, and the boundary
// between window and main moves by a step in the direction that improved
// it, the step decaying as it settles and restarting when the hit rate
// jumps.
//
// Three things differ from Caffeine and otter (see [sketch], minSample and
// admitMargin): the sketch has four times the counters, for more hits on
// skewed traffic; the climber's sample has a floor, so that in a small
// cache it does not chase noise; and a candidate must lead its victim by
// two sightings, not one, so that a loop larger than the cache does not
// churn main. Together they measured at or above both otter and ARC, less
// 0.1 point, on every ARC, LIRS and Zipf row of plugins/README.md's table
// except two where ARC leads and arc.wasm is the one to pick.
//
// Everything is weighed in bytes: the capacity, the segments and the
// steps. The sketch is sized for the number of entries the capacity holds
// at the average cost seen when the cache is half full, and grows if that
// estimate does. With the host's protocol the newcomer is announced before
// Evict, so Evict may name the newcomer itself: it lost admission.
//
// The zero value is not ready; use [New]. Not safe for concurrent use.
type WTinyLFU struct {
	a                hashlist.Arena
	lists            [3]hashlist.List
	maximum          int64
	windowMaximum    int64
	protectedMaximum int64
	sketch           sketch
	climber          climber
	rng              uint64
}

var _ policy.Policy = (*WTinyLFU)(nil)

// New returns an empty W-TinyLFU for a cache of capacity bytes.
func New(capacity int64) *WTinyLFU {
	maximum := max(capacity, 1)
	windowMax := maximum - int64(percentMain*float64(maximum))
	p := &WTinyLFU{
		maximum:          maximum,
		windowMaximum:    windowMax,
		protectedMaximum: int64(percentProtected * float64(maximum-windowMax)),
		rng:              0x9e3779b97f4a7c15,
	}
	p.climber.restart(maximum)
	return p
}

// Len returns the number of entries tracked.
func (p *WTinyLFU) Len() int { return p.a.Len() }

// WindowMaximum returns the window's current share of the capacity in
// bytes, which the climber moves.
func (p *WTinyLFU) WindowMaximum() int64 { return p.windowMaximum }

// size returns the sum of the costs of every entry.
func (p *WTinyLFU) size() int64 {
	return p.lists[window].Cost() + p.lists[probation].Cost() + p.lists[protected].Cost()
}

// Apply implements [policy.Policy]. When no eviction is due it also does
// what Caffeine's maintenance does after a batch: it moves the window's
// overflow to probation and lets the climber adapt.
func (p *WTinyLFU) Apply(events []policy.Event) {
	for _, ev := range events {
		r, ok := p.a.Lookup(ev.Hash)
		switch ev.Op {
		case policy.OpAccess:
			if ok {
				p.access(r)
			}
		case policy.OpInsert, policy.OpUpdate:
			if ok {
				p.update(r, ev.Cost)
			} else {
				p.add(ev.Hash, ev.Cost)
			}
		case policy.OpRemove:
			if ok {
				p.lists[p.a.Tag(r)].Remove(&p.a, r)
				p.a.Delete(r)
			}
		}
	}
	if p.size() <= p.maximum {
		p.evictFromWindow()
		p.climb()
	}
}

// Evict implements [policy.Policy]: the window's overflow becomes
// candidates for main, candidates and probation victims compete until
// need bytes are freed, and the climber adapts.
func (p *WTinyLFU) Evict(need int64, dst []uint64) []uint64 {
	candidate := p.evictFromWindow()
	dst = p.evictFromMain(candidate, need, dst)
	p.climb()
	return dst
}

// add puts a newcomer in the window, counting it in the sketch, which is
// made once the cache is half full.
func (p *WTinyLFU) add(h uint64, cost int64) {
	if size := p.size() + cost; size >= p.maximum>>1 {
		entries := float64(p.a.Len()+1) * float64(p.maximum) / float64(max(size, 1))
		p.sketch.ensureCapacity(uint64(min(entries, maxSketchEntries)))
	}
	p.sketch.increment(h)
	p.climber.misses++
	r := p.a.Add(h, cost, window)
	if cost > p.windowMaximum {
		p.lists[window].PushOldest(&p.a, r) // too big for the window: first out
	} else {
		p.lists[window].PushNewest(&p.a, r)
	}
}

// access counts a use of r and moves it up: to the newest end of its
// segment, or from probation to protected.
func (p *WTinyLFU) access(r hashlist.Ref) {
	p.sketch.increment(p.a.Hash(r))
	p.climber.hits++
	switch p.a.Tag(r) {
	case window, protected:
		p.lists[p.a.Tag(r)].MoveToNewest(&p.a, r)
	case probation:
		p.lists[probation].Remove(&p.a, r)
		if p.a.Cost(r) > p.protectedMaximum {
			p.lists[probation].PushNewest(&p.a, r)
			return
		}
		// protected may now be over its share; climb demotes the excess.
		p.a.SetTag(r, protected)
		p.lists[protected].PushNewest(&p.a, r)
	}
}

// update changes r's cost and counts a use, except that an entry grown
// too big for the window is put first in line to leave it.
func (p *WTinyLFU) update(r hashlist.Ref, cost int64) {
	l := &p.lists[p.a.Tag(r)]
	l.SetCost(&p.a, r, cost)
	if p.a.Tag(r) == window && cost > p.windowMaximum {
		l.Remove(&p.a, r)
		l.PushOldest(&p.a, r)
		return
	}
	p.access(r)
}

// next returns a pseudo-random number (xorshift64*), deterministic so that
// runs repeat.
func (p *WTinyLFU) next() uint64 {
	p.rng ^= p.rng >> 12
	p.rng ^= p.rng << 25
	p.rng ^= p.rng >> 27
	return p.rng * 0x2545f4914f6cdd1d
}
