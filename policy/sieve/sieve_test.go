package main

import (
	"fmt"
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

// step is a batch of events, then an Evict(need) naming want.
type step struct {
	events []policy.Event
	need   int64
	want   []uint64
}

func TestSIEVEEvict(t *testing.T) {
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"empty", []step{{nil, 1, nil}}},
		{"nothing needed", []step{{[]policy.Event{ins(1, 1)}, 0, nil}}},
		{"unvisited tail first", []step{{[]policy.Event{ins(1, 1), ins(2, 1), ins(3, 1)}, 2, []uint64{1, 2}}}},
		{"visited entries are passed and cleared", []step{
			{[]policy.Event{ins(1, 1), ins(2, 1), ins(3, 1), acc(1), acc(2)}, 1, []uint64{3}},
			// The hand went back to the tail after 3, the head; 1 and 2
			// lost their bits on the way.
			{[]policy.Event{ins(4, 1)}, 1, []uint64{1}},
		}},
		{"the hand stays where it stopped", []step{
			{[]policy.Event{ins(1, 1), ins(2, 1), ins(3, 1), acc(1)}, 1, []uint64{2}},
			// The hand is at 3: 1, behind it, is spared although unvisited now.
			{[]policy.Event{ins(4, 1)}, 1, []uint64{3}},
			{[]policy.Event{ins(5, 1)}, 1, []uint64{4}},
			{nil, 1, []uint64{5}}, // past the head, back to the tail: 1
		}},
		{"update is a use", []step{{[]policy.Event{ins(1, 1), ins(2, 1), upd(1, 1)}, 1, []uint64{2}}}},
		{"insert of a known hash is an update", []step{{[]policy.Event{ins(1, 1), ins(2, 1), ins(1, 1)}, 1, []uint64{2}}}},
		{"unknown access ignored", []step{{[]policy.Event{ins(1, 1), acc(9)}, 1, []uint64{1}}}},
		{"remove forgets", []step{{[]policy.Event{ins(1, 1), ins(2, 1), rem(1), rem(9)}, 5, []uint64{2}}}},
		{"remove under the hand moves it towards the head", []step{
			{[]policy.Event{ins(1, 1), ins(2, 1), ins(3, 1), ins(4, 1)}, 1, []uint64{1}},
			{[]policy.Event{acc(3), rem(2)}, 1, []uint64{4}},
		}},
		{"costs add up to need", []step{{[]policy.Event{ins(1, 100), ins(2, 50), ins(3, 10)}, 120, []uint64{1, 2}}}},
		{"update changes cost", []step{{[]policy.Event{ins(1, 100), ins(2, 50), upd(1, 10)}, 60, []uint64{2, 1}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := NewSIEVE()
			for i, s := range tc.steps {
				p.Apply(s.events)
				if got := p.Evict(s.need, nil); !slices.Equal(got, s.want) {
					t.Fatalf("step %d: victims %v, want %v", i, got, s.want)
				}
			}
		})
	}
}

func TestSIEVEProtocol(t *testing.T) {
	if err := policytest.Check(policy.New); err != nil {
		t.Fatal(err)
	}
}

// TestSIEVEMatchesPaper: registered as main.go does, behind EvictFirst,
// SIEVE makes the paper's decisions (policytest.SIEVE) hit for hit.
func TestSIEVEMatchesPaper(t *testing.T) {
	for _, tr := range policytest.Traces(100_000) {
		for _, capacity := range []int{1, 10, 100, 1_000, 5_000} {
			t.Run(fmt.Sprintf("%s/capacity=%d", tr.Name, capacity), func(t *testing.T) {
				got, _, err := policytest.Compare(policy.New, policytest.SIEVE, tr.Keys, capacity)
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("hit ratio %.4f", float64(got)/float64(len(tr.Keys)))
			})
		}
	}
}

// TestSIEVENeedsEvictFirst documents why main.go wraps SIEVE: without
// policy.EvictFirst, the newcomer is at the head when the host asks for
// room, and a hand that passes visited entries up to the head evicts it
// there instead of going round to the tail, so the natural code departs
// from the paper.
func TestSIEVENeedsEvictFirst(t *testing.T) {
	keys := policytest.Traces(100_000)[0].Keys // zipf
	if _, _, err := policytest.Compare(policy.New, policytest.SIEVE, keys, 100); err != nil {
		t.Fatalf("wrapped: %v", err)
	}
	unwrapped := func(int64) policy.Policy { return NewSIEVE() }
	got, want, err := policytest.Compare(unwrapped, policytest.SIEVE, keys, 100)
	t.Logf("unwrapped: %d hits, the paper's %d", got, want)
	if err == nil {
		t.Error("SIEVE without EvictFirst matched the paper: is EvictFirst still needed?")
	}
}

// TestSIEVEWeighsBytes: with every entry of cost 64 and a capacity of
// 64 × c bytes, the hits are those of c entries of cost 1.
func TestSIEVEWeighsBytes(t *testing.T) {
	keys := policytest.Traces(100_000)[2].Keys
	for _, c := range []int64{100, 1_000} {
		hits := func(cost int64) uint64 {
			s := policytest.NewSim(policy.New(c*cost), c*cost)
			for _, k := range keys {
				s.Get(k, cost)
			}
			return s.Stats().Hits
		}
		if one, big := hits(1), hits(64); one != big {
			t.Errorf("capacity %d entries: %d hits at cost 1, %d at cost 64", c, one, big)
		}
	}
}
