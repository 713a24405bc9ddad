package main

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/distcache/distcache/sdk/policy"
	"github.com/distcache/distcache/sdk/policy/policytest"
)

func ins(h uint64, cost int64) policy.Event {
	return policy.Event{Op: policy.OpInsert, Hash: h, Cost: cost}
}
func upd(h uint64, cost int64) policy.Event {
	return policy.Event{Op: policy.OpUpdate, Hash: h, Cost: cost}
}
func acc(h uint64) policy.Event { return policy.Event{Op: policy.OpAccess, Hash: h} }
func rem(h uint64) policy.Event { return policy.Event{Op: policy.OpRemove, Hash: h} }

func TestLFUEvict(t *testing.T) {
	for _, tc := range []struct {
		name   string
		events []policy.Event
		need   int64
		want   []uint64
	}{
		{"empty", nil, 1, nil},
		{"nothing needed", []policy.Event{ins(1, 1)}, 0, nil},
		{"least frequent first", []policy.Event{ins(1, 1), ins(2, 1), ins(3, 1), acc(1), acc(1), acc(3)},
			3, []uint64{2, 3, 1}},
		{"ties go to the least recent", []policy.Event{ins(1, 1), ins(2, 1), ins(3, 1), acc(2), acc(1)},
			2, []uint64{3, 2}},
		{"update counts a use", []policy.Event{ins(1, 1), ins(2, 1), upd(1, 1)}, 1, []uint64{2}},
		{"unknown access ignored", []policy.Event{ins(1, 1), ins(2, 1), acc(9)}, 1, []uint64{1}},
		{"remove forgets", []policy.Event{ins(1, 1), acc(1), ins(2, 1), ins(3, 1), rem(2), rem(8)},
			2, []uint64{3, 1}},
		{"newcomer spared", []policy.Event{ins(1, 1), acc(1), acc(1), ins(2, 1)}, 1, []uint64{1}},
		{"newcomer last", []policy.Event{ins(1, 1), acc(1), ins(2, 1)}, 2, []uint64{1, 2}},
		{"costs add up to need", []policy.Event{ins(1, 10), ins(2, 20), ins(3, 30), acc(1), acc(2), acc(3), acc(3)},
			25, []uint64{1, 2}},
		{"gaps between frequencies", []policy.Event{ins(1, 1), acc(1), acc(1), acc(1), ins(2, 1), acc(2), ins(3, 1)},
			3, []uint64{2, 1, 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := NewLFU()
			p.Apply(tc.events)
			got := p.Evict(tc.need, nil)
			if !slices.Equal(got, tc.want) {
				t.Errorf("victims %v, want %v", got, tc.want)
			}
			n := 0
			for b := p.lowest; b != 0; b = p.buckets[b].higher {
				n += p.buckets[b].items.Len()
			}
			if n != p.Len() {
				t.Errorf("buckets hold %d entries, Len says %d", n, p.Len())
			}
		})
	}
}

// TestLFUBucketsReused checks that frequency buckets emptied by accesses
// are reused rather than piling up.
func TestLFUBucketsReused(t *testing.T) {
	p := NewLFU()
	p.Apply([]policy.Event{ins(1, 1), ins(2, 1)})
	for range 1000 {
		p.Apply([]policy.Event{acc(1), acc(2)})
	}
	if n := len(p.buckets); n > 4 {
		t.Errorf("%d buckets for 2 entries", n)
	}
	if got := p.Evict(1, nil); !slices.Equal(got, []uint64{1}) {
		t.Errorf("victims %v, want [1]", got)
	}
}

func TestLFUProtocol(t *testing.T) {
	if err := policytest.Check(policy.New); err != nil {
		t.Fatal(err)
	}
}

// TestLFUFollowsAShift: after a hot set A has been read many times, a
// hot set B of the same size replaces it. Counts that never aged would
// keep A resident for good and B's newcomers would evict each other; aged,
// A's counts fade, and B's hit ratio approaches LRU's.
func TestLFUFollowsAShift(t *testing.T) {
	const capacity, hot = 1_000, 1_000
	r := rand.New(rand.NewPCG(3, 4))
	var keys []uint64
	for range 100_000 {
		keys = append(keys, r.Uint64N(hot)) // A: 0..999
	}
	phase1 := len(keys)
	for range 300_000 {
		keys = append(keys, 1<<32+r.Uint64N(hot)) // B
	}
	s := policytest.NewSim(policy.New(capacity), capacity)
	for _, k := range keys[:phase1] {
		s.Get(k, 1)
	}
	before := s.Stats().Hits
	for _, k := range keys[phase1:] {
		s.Get(k, 1)
	}
	n := float64(len(keys) - phase1)
	lfu := float64(s.Stats().Hits-before) / n
	lru := float64(policytest.LRU(keys, capacity)-policytest.LRU(keys[:phase1], capacity)) / n
	t.Logf("hit ratio after the shift: lfu %.4f, lru %.4f", lfu, lru)
	if lfu < 0.8*lru {
		t.Errorf("hit ratio after the shift %.4f, want at least 0.8 × LRU's %.4f", lfu, lru)
	}
}

// checkBuckets fails t unless p's buckets are linked both ways in
// ascending counts and hold, tagged with their index, every entry p
// tracks. Two neighbours may have equal counts only while a merge is under
// way, and never three.
func checkBuckets(t *testing.T, p *LFU) {
	t.Helper()
	n, prev, twins := 0, uint32(0), 0
	for b := p.lowest; b != 0; prev, b = b, p.buckets[b].higher {
		if p.buckets[b].lower != prev {
			t.Fatalf("bucket %d links back to %d, want %d", b, p.buckets[b].lower, prev)
		}
		if prev != 0 {
			switch lo, f := p.buckets[prev].freq, p.buckets[b].freq; {
			case lo > f:
				t.Fatalf("bucket %d (count %d) above one of count %d", b, f, lo)
			case lo == f && (p.merging == 0 || twins > 0):
				t.Fatalf("bucket %d (count %d) equal to the one below, merging %d, %d twins in a row", b, f, p.merging, twins+1)
			case lo == f:
				twins++
			default:
				twins = 0
			}
		}
		if p.buckets[b].items.Len() == 0 {
			t.Fatalf("bucket %d is empty", b)
		}
		for r := p.buckets[b].items.Oldest(); r != 0; r = p.a.Newer(r) {
			if p.a.Tag(r) != b {
				t.Fatalf("entry %d in bucket %d tagged %d", p.a.Hash(r), b, p.a.Tag(r))
			}
			n++
		}
	}
	if n != p.Len() {
		t.Fatalf("buckets hold %d entries, Len says %d", n, p.Len())
	}
}

// count returns h's count.
func count(p *LFU, h uint64) uint64 {
	r, ok := p.a.Lookup(h)
	if !ok {
		return 0
	}
	return p.buckets[p.a.Tag(r)].freq
}

// TestLFUHalves: every 10 uses per entry, counts are halved.
func TestLFUHalves(t *testing.T) {
	p := NewLFU()
	p.Apply([]policy.Event{ins(1, 1), ins(2, 1)})
	p.Apply(accs(1, 17)) // 19 uses of 20
	if c1, c2 := count(p, 1), count(p, 2); c1 != 18 || c2 != 1 {
		t.Fatalf("counts %d and %d before the halving, want 18 and 1", c1, c2)
	}
	p.Apply([]policy.Event{acc(2)}) // the 20th: 18 and 2 halve
	if c1, c2 := count(p, 1), count(p, 2); c1 != 9 || c2 != 1 {
		t.Errorf("counts %d and %d after the halving, want 9 and 1", c1, c2)
	}
	checkBuckets(t, p)
}

// TestLFUHalvingMerges: counts halved to the same value share a bucket,
// the formerly less used first to go, and counts halved to 0 rank below
// newcomers.
func TestLFUHalvingMerges(t *testing.T) {
	p := NewLFU()
	p.Apply(append([]policy.Event{ins(1, 1), acc(1), acc(1), ins(2, 1), acc(2), ins(3, 1)}, ins(4, 1)))
	p.Apply([]policy.Event{acc(4), acc(4), acc(4)})
	// counts: 1 has 3, 2 has 2, 3 has 1, 4 has 4
	p.halve()
	checkBuckets(t, p)
	for h, want := range map[uint64]uint64{1: 1, 2: 1, 3: 0, 4: 2} {
		if got := count(p, h); got != want {
			t.Errorf("%d's count %d after halving, want %d", h, got, want)
		}
	}
	p.Apply([]policy.Event{ins(5, 1)})
	checkBuckets(t, p)
	if got := p.Evict(5, nil); !slices.Equal(got, []uint64{3, 2, 1, 4, 5}) {
		t.Errorf("victims %v, want [3 2 1 4 5]", got)
	}
}

// TestLFUMergesGradually: after a halving, twins are merged a few entries
// per use, and meanwhile uses and evictions keep the merged order.
func TestLFUMergesGradually(t *testing.T) {
	p := NewLFU()
	var evs []policy.Event
	for h := range uint64(100) { // 0..49 have count 2, 50..99 count 3
		evs = append(evs, ins(h, 1), acc(h))
		if h >= 50 {
			evs = append(evs, acc(h))
		}
	}
	p.Apply(evs)
	p.halve() // all 100 now count 1, in twins
	checkBuckets(t, p)
	p.Apply([]policy.Event{acc(99)}) // to count 2: a new bucket above the twins
	checkBuckets(t, p)
	if p.merging == 0 {
		t.Fatal("merge done after one use; want it gradual")
	}
	if got := p.Evict(2, nil); !slices.Equal(got, []uint64{0, 1}) {
		t.Errorf("victims %v during the merge, want [0 1]", got)
	}
	for range 30 {
		p.Apply([]policy.Event{acc(98), acc(97)})
		checkBuckets(t, p)
	}
	if p.merging != 0 {
		t.Fatal("merge not done after 60 uses")
	}
	// Count 1: the twins merged, in order; 99 has 2; 98 and 97 have 31,
	// 97 used last.
	want := append(seq(2, 96), 99, 98, 97)
	if got := p.Evict(int64(len(want)), nil); !slices.Equal(got, want) {
		t.Errorf("victims %v after the merge, want %v", got, want)
	}
}

// seq returns the keys from..to, inclusive.
func seq(from, to uint64) []uint64 {
	var out []uint64
	for h := from; h <= to; h++ {
		out = append(out, h)
	}
	return out
}

// accs returns n accesses of h.
func accs(h uint64, n int) []policy.Event {
	var out []policy.Event
	for range n {
		out = append(out, acc(h))
	}
	return out
}

// TestLFUBucketsStayOrdered drives random events through many halvings
// and checks the buckets after every batch.
func TestLFUBucketsStayOrdered(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	p := NewLFU()
	halvings := 0
	for range 5_000 {
		var batch []policy.Event
		for range 10 {
			h := r.Uint64N(50)
			switch n := r.IntN(10); {
			case n < 6:
				batch = append(batch, acc(h))
			case n < 9:
				batch = append(batch, ins(h, 1+r.Int64N(9)))
			default:
				batch = append(batch, rem(h))
			}
		}
		before := p.uses
		p.Apply(batch)
		if p.uses < before {
			halvings++
		}
		checkBuckets(t, p)
		if r.IntN(10) == 0 {
			p.Evict(1+r.Int64N(20), nil)
			checkBuckets(t, p)
		}
	}
	if halvings < 10 {
		t.Errorf("%d halvings, want many", halvings)
	}
}
