package main

import (
	"container/list"
	"fmt"
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

func TestLRUEvict(t *testing.T) {
	for _, tc := range []struct {
		name   string
		events []policy.Event
		need   int64
		want   []uint64
	}{
		{"empty", nil, 10, nil},
		{"nothing needed", []policy.Event{ins(1, 1)}, 0, nil},
		{"insertion order", []policy.Event{ins(1, 1), ins(2, 1), ins(3, 1)}, 2, []uint64{1, 2}},
		{"access refreshes", []policy.Event{ins(1, 1), ins(2, 1), ins(3, 1), acc(1)}, 2, []uint64{2, 3}},
		{"update refreshes", []policy.Event{ins(1, 1), ins(2, 1), upd(1, 1)}, 1, []uint64{2}},
		{"insert of a known hash is an update", []policy.Event{ins(1, 1), ins(2, 1), ins(1, 1)}, 1, []uint64{2}},
		{"update of an unknown hash is an insert", []policy.Event{upd(1, 1), ins(2, 1)}, 1, []uint64{1}},
		{"unknown access ignored", []policy.Event{ins(1, 1), acc(9)}, 1, []uint64{1}},
		{"remove forgets", []policy.Event{ins(1, 1), ins(2, 1), rem(1), rem(9)}, 5, []uint64{2}},
		{"costs add up to need", []policy.Event{ins(1, 100), ins(2, 50), ins(3, 10)}, 120, []uint64{1, 2}},
		{"one big enough", []policy.Event{ins(1, 100), ins(2, 50)}, 100, []uint64{1}},
		{"update changes cost", []policy.Event{ins(1, 100), ins(2, 50), upd(2, 10), acc(1)}, 20, []uint64{2, 1}},
		{"everything, newcomer last", []policy.Event{ins(1, 1), ins(2, 1)}, 99, []uint64{1, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := NewLRU()
			p.Apply(tc.events)
			got := p.Evict(tc.need, nil)
			if !slices.Equal(got, tc.want) {
				t.Errorf("victims %v, want %v", got, tc.want)
			}
			if again := p.Evict(tc.need, nil); tc.need > 0 && slices.ContainsFunc(again, func(h uint64) bool { return slices.Contains(got, h) }) {
				t.Errorf("victims %v named again after %v: not forgotten", again, got)
			}
		})
	}
}

// refLRU is a byte-weighted LRU cache written the obvious way.
type refLRU struct {
	capacity, bytes int64
	order           *list.List // of refEntry, front most recent
	items           map[uint64]*list.Element
}

type refEntry struct {
	h    uint64
	cost int64
}

func (c *refLRU) get(h uint64, cost int64) bool {
	if el, ok := c.items[h]; ok {
		c.order.MoveToFront(el)
		return true
	}
	for c.bytes+cost > c.capacity {
		e := c.order.Remove(c.order.Back()).(refEntry)
		delete(c.items, e.h)
		c.bytes -= e.cost
	}
	c.items[h] = c.order.PushFront(refEntry{h, cost})
	c.bytes += cost
	return false
}

// TestLRUMatchesReference replays a random trace with random costs and
// asserts the same hits, request by request, as a reference LRU.
func TestLRUMatchesReference(t *testing.T) {
	for _, capacity := range []int64{1, 100, 5_000, 100_000} {
		t.Run(fmt.Sprintf("capacity=%d", capacity), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(capacity), 1))
			zipf := rand.NewZipf(r, 1.1, 1, 9_999)
			sim := policytest.NewSim(NewLRU(), capacity)
			ref := &refLRU{capacity: capacity, order: list.New(), items: map[uint64]*list.Element{}}
			costs := map[uint64]int64{}
			for i := range 100_000 {
				h := zipf.Uint64()
				if _, ok := costs[h]; !ok {
					costs[h] = 1 + r.Int64N(min(capacity, 100))
				}
				if got, want := sim.Get(h, costs[h]), ref.get(h, costs[h]); got != want {
					t.Fatalf("capacity %d, request %d: hit=%v, reference %v", capacity, i, got, want)
				}
			}
			t.Logf("capacity %d: hit ratio %.4f", capacity, sim.Stats().HitRatio())
		})
	}
}

func TestLRUProtocol(t *testing.T) {
	if err := policytest.Check(policy.New); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkLRU measures a hit (an access) and a miss (an insert, then
// an eviction) over 100,000 entries.
func BenchmarkLRU(b *testing.B) {
	const n = 100_000
	p := NewLRU()
	for h := range uint64(n) {
		p.Apply([]policy.Event{ins(h, 1)})
	}
	ev := make([]policy.Event, 1)
	var victims []uint64
	b.ReportAllocs()
	b.ResetTimer()
	for i := range uint64(b.N) {
		if i%2 == 0 {
			ev[0] = acc(i * 0x9e3779b97f4a7c15 % (n + i))
			p.Apply(ev)
			continue
		}
		ev[0] = ins(n+i, 1)
		p.Apply(ev)
		victims = p.Evict(1, victims[:0])
	}
}
