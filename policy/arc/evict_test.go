package main

import (
	"slices"
	"testing"

	"github.com/distcache/distcache/sdk/policy"
	"github.com/distcache/distcache/sdk/policy/policytest"
)

func ins(h uint64, cost int64) policy.Event {
	return policy.Event{Op: policy.OpInsert, Hash: h, Cost: cost}
}
func acc(h uint64) policy.Event { return policy.Event{Op: policy.OpAccess, Hash: h} }
func rem(h uint64) policy.Event { return policy.Event{Op: policy.OpRemove, Hash: h} }

// step is a batch of events, then an Evict(need) naming want.
type step struct {
	events []policy.Event
	need   int64
	want   []uint64
}

func TestARCEvict(t *testing.T) {
	for _, tc := range []struct {
		name     string
		capacity int64
		steps    []step
	}{
		{"miss takes T1's LRU", 3, []step{
			{[]policy.Event{ins(1, 1), ins(2, 1), ins(3, 1), ins(4, 1)}, 1, []uint64{1}},
		}},
		{"a hit moves to T2", 3, []step{
			{[]policy.Event{ins(1, 1), ins(2, 1), ins(3, 1), acc(1), ins(4, 1)}, 1, []uint64{2}},
		}},
		{"B1 ghost hit grows p and goes to T2", 2, []step{
			{[]policy.Event{ins(1, 1), ins(2, 1), ins(3, 1)}, 1, []uint64{1}},
			{[]policy.Event{ins(1, 1)}, 1, []uint64{2}},
			{[]policy.Event{acc(3), ins(5, 1)}, 1, []uint64{1}},
		}},
		{"newcomer refused when alone", 10, []step{
			{[]policy.Event{ins(1, 8)}, 5, []uint64{1}},
			{[]policy.Event{ins(2, 1)}, 1, []uint64{2}},
		}},
		{"costs add up to need", 100, []step{
			{[]policy.Event{ins(1, 40), ins(2, 40), ins(3, 40)}, 20, []uint64{1}},
			{[]policy.Event{ins(4, 50)}, 30, []uint64{2}},
			{[]policy.Event{ins(5, 90)}, 80, []uint64{3, 4}},
		}},
		{"remove forgets", 3, []step{
			{[]policy.Event{ins(1, 1), ins(2, 1), rem(1), rem(9), ins(3, 1)}, 3, []uint64{2, 3}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := NewARC(tc.capacity)
			for i, s := range tc.steps {
				p.Apply(s.events)
				if got := p.Evict(s.need, nil); !slices.Equal(got, s.want) {
					t.Fatalf("step %d: victims %v, want %v (p=%d)", i, got, s.want, p.Target())
				}
			}
		})
	}
}

func TestARCProtocol(t *testing.T) {
	if err := policytest.Check(policy.New); err != nil {
		t.Fatal(err)
	}
}
