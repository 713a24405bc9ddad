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

func TestFIFOEvict(t *testing.T) {
	for _, tc := range []struct {
		name   string
		events []policy.Event
		need   int64
		want   []uint64
	}{
		{"empty", nil, 1, nil},
		{"nothing needed", []policy.Event{ins(1, 1)}, 0, nil},
		{"insertion order", []policy.Event{ins(1, 1), ins(2, 1), ins(3, 1)}, 2, []uint64{1, 2}},
		{"access does nothing", []policy.Event{ins(1, 1), ins(2, 1), acc(1), acc(1)}, 1, []uint64{1}},
		{"update keeps place", []policy.Event{ins(1, 1), ins(2, 1), upd(1, 1)}, 1, []uint64{1}},
		{"insert of a known hash keeps place", []policy.Event{ins(1, 1), ins(2, 1), ins(1, 1)}, 1, []uint64{1}},
		{"update of an unknown hash is an insert", []policy.Event{upd(1, 1), ins(2, 1)}, 2, []uint64{1, 2}},
		{"remove forgets", []policy.Event{ins(1, 1), ins(2, 1), rem(1), rem(7)}, 1, []uint64{2}},
		{"costs add up to need", []policy.Event{ins(1, 10), ins(2, 10), ins(3, 10)}, 11, []uint64{1, 2}},
		{"update changes cost", []policy.Event{ins(1, 10), ins(2, 10), upd(1, 30)}, 25, []uint64{1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := NewFIFO()
			p.Apply(tc.events)
			if got := p.Evict(tc.need, nil); !slices.Equal(got, tc.want) {
				t.Errorf("victims %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFIFOProtocol(t *testing.T) {
	if err := policytest.Check(policy.New); err != nil {
		t.Fatal(err)
	}
}
