package cache

import (
	"math/rand/v2"
	"testing"
)

// TestIndexMatchesMap drives an index and a map with the same random
// puts and removes, over hashes chosen so that probe runs collide and wrap
// around the table, and checks that they always agree.
func TestIndexMatchesMap(t *testing.T) {
	for _, tc := range []struct {
		name  string
		steps int
		hash  func(k uint64) uint64
	}{
		{"spread", 200_000, func(k uint64) uint64 { return k * 0x9e3779b97f4a7c15 }},
		// Degenerate hashes make every probe run long: fewer steps.
		{"same low bits", 20_000, func(k uint64) uint64 { return k<<20 | 5 }},
		{"few homes", 20_000, func(k uint64) uint64 { return k<<32 | k%3 }},
		{"high end", 20_000, func(k uint64) uint64 { return k<<16 | 0xffff }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			type item struct{ h, v uint64 }
			x := index[*item]{hashOf: func(it *item) uint64 { return it.h }}
			want := map[uint64]*item{}
			r := rand.New(rand.NewPCG(1, 2))
			for step := range tc.steps {
				h := tc.hash(uint64(r.IntN(3000)))
				if r.IntN(3) == 0 {
					got, ok := x.remove(h)
					if w := want[h]; ok != (w != nil) || got != w {
						t.Fatalf("step %d: remove(%#x) = %v, %v; want %v", step, h, got, ok, w)
					}
					delete(want, h)
				} else {
					it := &item{h: h, v: uint64(step)}
					old, ok := x.put(it)
					if w := want[h]; ok != (w != nil) || old != w {
						t.Fatalf("step %d: put(%#x) replaced %v, %v; want %v", step, h, old, ok, w)
					}
					want[h] = it
				}
				if x.n != len(want) {
					t.Fatalf("step %d: %d items, want %d", step, x.n, len(want))
				}
				if step%1000 == 0 {
					for h, w := range want {
						if got, ok := x.get(h); !ok || got != w {
							t.Fatalf("step %d: get(%#x) = %v, %v; want %v", step, h, got, ok, w)
						}
					}
					n := 0
					x.each(func(*item) { n++ })
					if n != len(want) {
						t.Fatalf("step %d: each saw %d items, want %d", step, n, len(want))
					}
				}
			}
			for h := range want {
				x.remove(h)
			}
			if x.n != 0 || len(x.tags) != minIndexSlots {
				t.Fatalf("emptied index holds %d items in %d slots, want 0 in %d", x.n, len(x.tags), minIndexSlots)
			}
		})
	}
}

// TestLRUOrder checks the native LRU's order through inserts, accesses,
// updates and removes, with nodes reused.
func TestLRUOrder(t *testing.T) {
	p := NewLRU()
	for round := range 3 { // later rounds reuse freed nodes
		for h := uint64(1); h <= 2000; h++ {
			p.Apply([]Event{{Op: OpInsert, Hash: h, Cost: 10}})
		}
		p.Apply([]Event{{Op: OpAccess, Hash: 1}, {Op: OpUpdate, Hash: 2, Cost: 30}, {Op: OpRemove, Hash: 3}, {Op: OpAccess, Hash: 99999}})
		got := p.Evict(35, nil)
		if want := []uint64{4, 5, 6, 7}; !equalHashes(got, want) {
			t.Fatalf("round %d: Evict(35) = %v, want %v", round, got, want)
		}
		got = p.Evict(1<<40, nil)
		if len(got) != 2000-5 || got[len(got)-2] != 1 || got[len(got)-1] != 2 {
			t.Fatalf("round %d: evicted %d, ending %v; want %d ending [1 2]", round, len(got), got[len(got)-2:], 2000-5)
		}
		if p.Len() != 0 {
			t.Fatalf("round %d: Len = %d after evicting everything", round, p.Len())
		}
	}
}

func equalHashes(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
