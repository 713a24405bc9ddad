package main

import (
	"testing"

	"github.com/distcache/distcache/sdk/policy"
	"github.com/distcache/distcache/sdk/policy/policytest"
)

func TestWTinyLFUProtocol(t *testing.T) {
	if err := policytest.Check(policy.New); err != nil {
		t.Fatal(err)
	}
}

// TestWTinyLFUScanResistance: hot keys survive scans of cold keys four
// times the capacity, because cold candidates lose admission to them.
func TestWTinyLFUScanResistance(t *testing.T) {
	for _, tc := range []struct {
		name string
		cost int64 // of every entry
	}{
		{"unit costs", 1},
		{"byte costs", 300},
	} {
		t.Run(tc.name, func(t *testing.T) {
			capacity := 100 * tc.cost
			sim := policytest.NewSim(New(capacity), capacity)
			cold := uint64(1 << 32)
			for range 50 {
				for k := range uint64(50) {
					sim.Get(hashKey(k), tc.cost)
				}
				for range 400 {
					sim.Get(hashKey(cold), tc.cost)
					cold++
				}
			}
			hot := 0
			for k := range uint64(50) {
				if sim.Contains(hashKey(k)) {
					hot++
				}
			}
			if hot < 48 {
				t.Errorf("%d of 50 hot keys resident after the scans, want at least 48", hot)
			}
		})
	}
}

func TestSketch(t *testing.T) {
	for _, tc := range []struct {
		name       string
		increments int
		want       uint64
	}{
		{"unseen", 0, 0},
		{"once", 1, 1},
		{"a few", 5, 5},
		{"saturates at 15", 40, 15},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s sketch
			s.ensureCapacity(1024)
			for range tc.increments {
				s.increment(42)
			}
			if got := s.frequency(42); got != tc.want {
				t.Errorf("frequency %d, want %d", got, tc.want)
			}
		})
	}
}

// TestSketchHalves: once the sample is full every counter is halved.
func TestSketchHalves(t *testing.T) {
	var s sketch
	s.ensureCapacity(1 << 12)
	for range 12 {
		s.increment(7)
	}
	before := s.frequency(7)
	for h := uint64(1000); s.size > 0; h++ { // fill the sample; size drops at the reset
		size := s.size
		s.increment(hashKey(h))
		if s.size < size {
			break
		}
	}
	// Other keys may have hit one of 7's counters before the reset.
	if got := s.frequency(7); got < before/2 || got > before/2+1 {
		t.Errorf("frequency %d before the reset, %d after; want about half", before, got)
	}
}
