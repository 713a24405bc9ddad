package main

import (
	"slices"
	"testing"

	"github.com/distcache/distcache/sdk/policy"
	"github.com/distcache/distcache/sdk/policy/policytest"
)

// TestProtocol drives the registered policy the way a distcache group
// does (policytest.Check): it must name only entries the cache holds,
// free what it is asked for, and never leave the cache to evict by itself.
func TestProtocol(t *testing.T) {
	if err := policytest.Check(policy.New); err != nil {
		t.Fatal(err)
	}
}

// TestSecondChance checks the order CLOCK evicts in: a read entry is
// passed over once.
func TestSecondChance(t *testing.T) {
	p := policy.New(1 << 20)
	p.Apply([]policy.Event{
		{Op: policy.OpInsert, Hash: 1, Cost: 10},
		{Op: policy.OpInsert, Hash: 2, Cost: 10},
		{Op: policy.OpInsert, Hash: 3, Cost: 10},
		{Op: policy.OpAccess, Hash: 1},
	})
	if got, want := p.Evict(20, nil), []uint64{2, 3}; !slices.Equal(got, want) {
		t.Fatalf("Evict(20) = %v, want %v (1 was read: it gets a second chance)", got, want)
	}
	if got, want := p.Evict(1, nil), []uint64{1}; !slices.Equal(got, want) {
		t.Fatalf("Evict(1) = %v, want %v", got, want)
	}
	if got := p.Evict(1, nil); len(got) != 0 {
		t.Fatalf("Evict(1) of an empty policy = %v, want none", got)
	}
}
