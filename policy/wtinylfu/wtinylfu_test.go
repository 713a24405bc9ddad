package main

import (
	"container/list"
	"fmt"
	"testing"

	arcref "github.com/hashicorp/golang-lru/arc/v2"

	"github.com/distcache/distcache/internal/trace"
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

// replayMine replays keys through this policy as the WASM hit-ratio test
// does: [trace.Replay], with its Mix'd hashes and batches.
func replayMine(r trace.Reader, capacity int) (hits, total int64, err error) {
	return trace.Replay(New(int64(capacity)), r, capacity)
}

// TestLoopTwiceTheCapacityKeepsMain: on a loop over twice the capacity
// every key is as popular as every other, and the best a cache can do is
// keep one set and hit it each round: about (capacity - window) / loop.
// With a margin of 0 each candidate led its victim by the one sighting
// that brought it in and main churned: 40.5% at 500 entries where otter
// gets 48-49%.
func TestLoopTwiceTheCapacityKeepsMain(t *testing.T) {
	const capacity, loop = 500, 1000
	keys, err := trace.Collect(trace.Loop(200*loop, loop))
	if err != nil {
		t.Fatal(err)
	}
	got := traceRatio(t, replayMine, keys, capacity)
	var otterRatio float64
	for range 3 {
		otterRatio += traceRatio(t, trace.ReplayOtter, keys, capacity) / 3
	}
	t.Logf("wtinylfu %.4f, otter (mean of 3) %.4f", got, otterRatio)
	if best := float64(capacity-capacity/100) / loop; got < 0.97*best {
		t.Errorf("wtinylfu %.4f < 0.97 of a stable main's %.4f", got, best)
	}
	if got < otterRatio-0.001 {
		t.Errorf("wtinylfu %.4f < otter %.4f - 0.001", got, otterRatio)
	}
}

func traceRatio(t *testing.T, replay func(trace.Reader, int) (int64, int64, error), keys []uint64, capacity int) float64 {
	t.Helper()
	hits, total, err := replay(trace.Slice(keys), capacity)
	if err != nil {
		t.Fatal(err)
	}
	return float64(hits) / float64(total)
}

// TestZipfMatchesOtter: on Zipf traces of the family the WASM test replays
// (trace.Zipf, 100k keys) W-TinyLFU does at least about as well as otter v2
// (Caffeine's design in Go), and better than LRU.
func TestZipfMatchesOtter(t *testing.T) {
	for _, tc := range []struct {
		s        float64
		capacity int
	}{
		{1.0, 1000}, // the WASM test's trace
		{0.8, 1000},
		{1.2, 100},
	} {
		t.Run(fmt.Sprintf("s=%.1f capacity=%d", tc.s, tc.capacity), func(t *testing.T) {
			keys, err := trace.Collect(trace.Zipf(500_000, 100_000, tc.s, 7))
			if err != nil {
				t.Fatal(err)
			}
			got := traceRatio(t, replayMine, keys, tc.capacity)
			otterRatio := traceRatio(t, trace.ReplayOtter, keys, tc.capacity)
			lruRatio := traceRatio(t, trace.ReplayLRU, keys, tc.capacity)
			arcRatio := traceRatio(t, trace.ReplayARC, keys, tc.capacity)
			t.Logf("wtinylfu %.4f, otter %.4f, arc %.4f, lru %.4f", got, otterRatio, arcRatio, lruRatio)
			if got < otterRatio-0.005 {
				t.Errorf("wtinylfu %.4f < otter %.4f - 0.005", got, otterRatio)
			}
			if got <= lruRatio {
				t.Errorf("wtinylfu %.4f <= lru %.4f", got, lruRatio)
			}
		})
	}
}
