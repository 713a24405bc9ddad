package main

import (
	"container/list"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	arcref "github.com/hashicorp/golang-lru/arc/v2"
	"github.com/maypok86/otter/v2"

	"github.com/distcache/distcache/sdk/policy/policytest"
)

// cache is what the hit-ratio tests replay a trace through.
type cache interface {
	get(key uint64) bool // a read through: a miss stores key
}

// mine drives this policy by the host's protocol, one byte per entry.
type mine struct{ sim *policytest.Sim }

func (m mine) get(key uint64) bool { return m.sim.Get(hashKey(key), 1) }

// hashKey stands in for the host's key hash (splitmix64's finalizer).
func hashKey(k uint64) uint64 {
	k ^= k >> 30
	k *= 0xbf58476d1ce4e5b9
	k ^= k >> 27
	k *= 0x94d049bb133111eb
	return k ^ k>>31
}

// lru is a textbook LRU of c entries.
type lru struct {
	c     int
	order *list.List
	items map[uint64]*list.Element
}

func newLRU(c int) *lru { return &lru{c: c, order: list.New(), items: map[uint64]*list.Element{}} }

func (l *lru) get(key uint64) bool {
	if el, ok := l.items[key]; ok {
		l.order.MoveToFront(el)
		return true
	}
	l.items[key] = l.order.PushFront(key)
	if l.order.Len() > l.c {
		delete(l.items, l.order.Remove(l.order.Back()).(uint64))
	}
	return false
}

type arc struct {
	c *arcref.ARCCache[uint64, struct{}]
}

func (a arc) get(key uint64) bool {
	if _, ok := a.c.Get(key); ok {
		return true
	}
	a.c.Add(key, struct{}{})
	return false
}

type otterCache struct {
	c *otter.Cache[uint64, struct{}]
}

func (o otterCache) get(key uint64) bool {
	if _, ok := o.c.GetIfPresent(key); ok {
		return true
	}
	o.c.Set(key, struct{}{})
	return false
}

func hitRatio(c cache, keys []uint64) float64 {
	hits := 0
	for _, k := range keys {
		if c.get(k) {
			hits++
		}
	}
	return float64(hits) / float64(len(keys))
}

// loopTrace cycles over keys 0..span-1.
func loopTrace(span, n int) []uint64 {
	keys := make([]uint64, n)
	for i := range keys {
		keys[i] = uint64(i % span)
	}
	return keys
}

// zipfTrace draws n keys of 0..distinct-1 where key k has weight
// 1/(k+1)^s (s = 1 is allowed, unlike rand.Zipf).
func zipfTrace(seed uint64, s float64, distinct, n int) []uint64 {
	cdf := make([]float64, distinct)
	var sum float64
	for k := range cdf {
		sum += 1 / math.Pow(float64(k+1), s)
		cdf[k] = sum
	}
	r := rand.New(rand.NewPCG(seed, 0))
	keys := make([]uint64, n)
	for i := range keys {
		k, _ := slices.BinarySearch(cdf, r.Float64()*sum)
		keys[i] = uint64(min(k, distinct-1))
	}
	return keys
}

func newARC(t *testing.T, c int) arc {
	a, err := arcref.NewARC[uint64, struct{}](c)
	if err != nil {
		t.Fatal(err)
	}
	return arc{a}
}

// TestLoopBeatsLRUAndARC: a loop over 1.5x the capacity defeats recency
// (LRU hits nothing), while W-TinyLFU keeps most of main and hits it
// every round.
func TestLoopBeatsLRUAndARC(t *testing.T) {
	for _, c := range []int{100, 1000} {
		keys := loopTrace(c*3/2, 200*c)
		got := hitRatio(mine{policytest.NewSim(New(int64(c)), int64(c))}, keys)
		lruRatio := hitRatio(newLRU(c), keys)
		arcRatio := hitRatio(newARC(t, c), keys)
		t.Logf("capacity %d, loop of %d: wtinylfu %.4f, lru %.4f, arc %.4f", c, c*3/2, got, lruRatio, arcRatio)
		if got < lruRatio+0.3 || got < arcRatio+0.3 {
			t.Errorf("capacity %d: wtinylfu %.4f does not beat lru %.4f and arc %.4f by 0.3", c, got, lruRatio, arcRatio)
		}
	}
}

// TestZipfMatchesOtter: on a Zipf(1.0) trace W-TinyLFU does at least about
// as well as otter v2 (Caffeine's design in Go), and better than LRU.
func TestZipfMatchesOtter(t *testing.T) {
	const c = 1000
	keys := zipfTrace(42, 1.0, 100_000, 500_000)
	got := hitRatio(mine{policytest.NewSim(New(c), c)}, keys)
	lruRatio := hitRatio(newLRU(c), keys)
	arcRatio := hitRatio(newARC(t, c), keys)
	oc := otter.Must(&otter.Options[uint64, struct{}]{MaximumSize: c})
	otterRatio := hitRatio(otterCache{oc}, keys)
	t.Logf("zipf 1.0, 100k keys, capacity %d: wtinylfu %.4f, otter %.4f, arc %.4f, lru %.4f", c, got, otterRatio, arcRatio, lruRatio)
	if got < otterRatio-0.005 {
		t.Errorf("wtinylfu %.4f < otter %.4f - 0.005", got, otterRatio)
	}
	if got <= lruRatio {
		t.Errorf("wtinylfu %.4f <= lru %.4f", got, lruRatio)
	}
}
