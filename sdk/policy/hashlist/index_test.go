package hashlist

import (
	"math/rand/v2"
	"testing"
)

// TestIndexAgainstMap adds and deletes structured and random hashes
// (including 0 and all ones) and checks every lookup against a Go map, so
// that growth and backward-shift deletion keep every entry findable.
func TestIndexAgainstMap(t *testing.T) {
	for _, tc := range []struct {
		name string
		hash func(i uint64) uint64
	}{
		{"sequential", func(i uint64) uint64 { return i }},
		{"high bits", func(i uint64) uint64 { return i << 40 }},
		{"strided", func(i uint64) uint64 { return i * 4096 }},
		{"all ones down", func(i uint64) uint64 { return ^i }},
		{"random", func(i uint64) uint64 { return rand.New(rand.NewPCG(i, 1)).Uint64() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var a Arena
			want := map[uint64]Ref{}
			r := rand.New(rand.NewPCG(1, 2))
			for step := range 20000 {
				h := tc.hash(r.Uint64N(3000))
				if ref, ok := want[h]; ok && r.IntN(3) > 0 {
					a.Delete(ref)
					delete(want, h)
				} else if !ok {
					want[h] = a.Add(h, 1, 0)
				}
				if step%997 == 0 || step > 19900 {
					for h, ref := range want {
						if got, ok := a.Lookup(h); !ok || got != ref {
							t.Fatalf("step %d: Lookup(%#x) = %d, %v; want %d", step, h, got, ok, ref)
						}
					}
					if a.Len() != len(want) {
						t.Fatalf("step %d: Len %d, want %d", step, a.Len(), len(want))
					}
				}
				if _, ok := a.Lookup(tc.hash(3000 + uint64(step))); ok {
					t.Fatalf("step %d: found a hash never added", step)
				}
			}
		})
	}
}

// TestZeroArenaLookup: a zero Arena finds nothing, hash 0 included.
func TestZeroArenaLookup(t *testing.T) {
	var a Arena
	for _, h := range []uint64{0, 1, ^uint64(0)} {
		if r, ok := a.Lookup(h); ok || r != Nil {
			t.Errorf("Lookup(%#x) = %d, %v on a zero Arena", h, r, ok)
		}
	}
	a.Add(5, 1, 0)
	if _, ok := a.Lookup(0); ok {
		t.Error("Lookup(0) found a node never added")
	}
}
