package main

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	arcref "github.com/hashicorp/golang-lru/arc/v2"

	"github.com/distcache/distcache/sdk/policy/policytest"
)

// trace returns n keys: a Zipf-popular set interleaved with scans and
// loops over fresh ranges, so that both ghost lists get hits.
func trace(seed uint64, n int) []uint64 {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	zipf := rand.NewZipf(r, 1.1, 1, 20_000)
	keys := make([]uint64, 0, n)
	scanBase := uint64(1 << 40)
	for len(keys) < n {
		switch phase := r.IntN(10); {
		case phase < 6: // popular keys
			for range 1 + r.IntN(2_000) {
				keys = append(keys, zipf.Uint64())
			}
		case phase < 8: // a one-off scan
			for i := range uint64(1 + r.IntN(3_000)) {
				keys = append(keys, scanBase+i)
			}
			scanBase += 1 << 20
		default: // a loop over a small range, mixed with popular keys
			span := uint64(1 + r.IntN(1_500))
			for i := range uint64(1 + r.IntN(6_000)) {
				if r.IntN(3) == 0 {
					keys = append(keys, zipf.Uint64())
				}
				keys = append(keys, scanBase+i%span)
			}
			scanBase += 1 << 20
		}
	}
	return keys[:n]
}

// TestARCMatchesHashicorp replays one trace through this ARC, driven by
// the host's protocol with every cost 1, and through hashicorp's ARCCache
// of the same size, and asserts equal hit/miss decisions request by
// request for as long as hashicorp holds at most c entries. (Hashicorp can
// come to hold c+1; see TestARCHashicorpOverfills. A host never lets a
// policy do that.) For the larger capacities the whole trace is compared.
func TestARCMatchesHashicorp(t *testing.T) {
	keys := trace(1, 200_000)
	for _, tc := range []struct {
		capacity int
		whole    bool // hashicorp never overfills on this trace
	}{
		{1, false}, {2, false}, {3, false}, {10, true}, {64, true},
		{100, true}, {500, true}, {1000, true}, {5000, true},
	} {
		t.Run(fmt.Sprintf("capacity=%d", tc.capacity), func(t *testing.T) {
			c := tc.capacity
			ref, err := arcref.NewARC[uint64, struct{}](c)
			if err != nil {
				t.Fatal(err)
			}
			mine := NewARC(int64(c))
			sim := policytest.NewSim(mine, int64(c))
			var refHits uint64
			n := len(keys)
			for i, k := range keys {
				_, refHit := ref.Get(k)
				if refHit {
					refHits++
				} else {
					ref.Add(k, struct{}{})
				}
				if hit := sim.Get(k, 1); hit != refHit {
					t.Fatalf("request %d (key %d): hit=%v, hashicorp hit=%v", i, k, hit, refHit)
				}
				if ref.Len() > c {
					n = i + 1
					break
				}
			}
			st := sim.Stats()
			if tc.whole && n < len(keys) {
				t.Fatalf("hashicorp overfilled at request %d; only %d requests compared", n-1, n)
			}
			if st.Fallbacks != 0 || st.Rejections != 0 {
				t.Errorf("fallbacks %d, rejections %d, want none", st.Fallbacks, st.Rejections)
			}
			if st.Hits != refHits {
				t.Errorf("hits %d, hashicorp %d", st.Hits, refHits)
			}
			t.Logf("capacity %d: %d requests, identical decisions, hit ratio %.4f", c, n, st.HitRatio())
		})
	}
}

// TestARCHashicorpOverfills pins down where this ARC and hashicorp's part
// ways: a B1 ghost hit when T1 holds all c entries and p reaches c makes
// hashicorp's REPLACE pick the empty T2, so it evicts nothing and holds
// c+1 entries. (The paper's bound |T1|+|B1| <= c rules that state out;
// hashicorp trims its ghosts more loosely.) Here the host's capacity holds,
// and T1's oldest entry goes instead.
func TestARCHashicorpOverfills(t *testing.T) {
	ref, err := arcref.NewARC[uint64, struct{}](1)
	if err != nil {
		t.Fatal(err)
	}
	mine := NewARC(1)
	sim := policytest.NewSim(mine, 1)
	var got, want []bool
	var refMax, mineMax int
	for _, k := range []uint64{1, 2, 1, 2} {
		_, refHit := ref.Get(k)
		if !refHit {
			ref.Add(k, struct{}{})
		}
		want = append(want, refHit)
		got = append(got, sim.Get(k, 1))
		refMax, mineMax = max(refMax, ref.Len()), max(mineMax, sim.Len())
	}
	if refMax != 2 || mineMax != 1 {
		t.Errorf("hashicorp held up to %d entries, this ARC %d; want 2 and 1", refMax, mineMax)
	}
	if !slices.Equal(want, []bool{false, false, false, true}) || !slices.Equal(got, []bool{false, false, false, false}) {
		t.Errorf("hits %v, hashicorp %v", got, want)
	}
}
