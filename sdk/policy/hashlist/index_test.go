package hashlist

import (
	"math/rand/v2"
	"runtime"
	"testing"
)

// TestIndexAgainstMap adds and deletes structured and random hashes
// (including 0 and all ones) and checks every lookup against a Go map, so
// that growth and backward-shift deletion keep every entry findable.
func TestIndexAgainstMap(t *testing.T) {
	for _, tc := range []struct {
		name string
		hash func(i uint64) uint64
		keys uint64 // distinct hashes drawn from
	}{
		{"sequential", func(i uint64) uint64 { return i }, 3000},
		{"high bits", func(i uint64) uint64 { return i << 40 }, 3000},
		{"strided", func(i uint64) uint64 { return i * 4096 }, 3000},
		{"all ones down", func(i uint64) uint64 { return ^i }, 3000},
		{"random", func(i uint64) uint64 { return rand.New(rand.NewPCG(i, 1)).Uint64() }, 3000},
		{"random over chunks", func(i uint64) uint64 { return rand.New(rand.NewPCG(i, 1)).Uint64() }, 3 * chunkSize},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var a Arena
			want := map[uint64]Ref{}
			r := rand.New(rand.NewPCG(1, 2))
			for step := range 20000 {
				h := tc.hash(r.Uint64N(tc.keys))
				if ref, ok := want[h]; ok && r.IntN(3) > 0 {
					a.Delete(ref)
					delete(want, h)
					if got, ok := a.Lookup(h); ok {
						t.Fatalf("step %d: Lookup(%#x) = %d after it was deleted", step, h, got)
					}
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
				if _, ok := a.Lookup(tc.hash(tc.keys + uint64(step))); ok {
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

// TestArenaBytesPerEntry checks the memory an Arena takes per entry, its
// growth included: at most 40 bytes (a 24-byte node and 4 to 11 bytes of
// index) measured on the Go heap, on which a guest's memory grows too.
func TestArenaBytesPerEntry(t *testing.T) {
	if testing.Short() {
		t.Skip("adds 1,000,000 entries")
	}
	const n = 1_000_000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var a Arena
	var l List
	for i := range uint64(n) {
		l.PushNewest(&a, a.Add(i*0x9e3779b97f4a7c15, 100, 0))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	perEntry := float64(after.HeapAlloc-before.HeapAlloc) / n
	t.Logf("%d entries: %.1f heap bytes per entry", n, perEntry)
	if perEntry > 40 {
		t.Errorf("%.1f heap bytes per entry, want at most 40", perEntry)
	}
	runtime.KeepAlive(&a)
}
