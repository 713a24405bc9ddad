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
