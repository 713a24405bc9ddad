package cache

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"testing"
	"time"
)

// heapInUse returns the live Go heap after a full collection.
func heapInUse() int64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// memKey returns the i-th key of n bytes (n >= 12).
func memKey(i, n int) string {
	return fmt.Sprintf("k%0*d", n-1, i)
}

// memCase fills something with n entries of keyLen-byte keys and valLen
// bytes values and returns the bytes it accounts for afterwards.
type memCase struct {
	name           string
	n              int
	keyLen, valLen int
	fill           func(t *testing.T, n, keyLen, valLen int) (accounted int64, keep any)
}

func fillSet(t *testing.T, n, keyLen, valLen int) (int64, any) {
	g := newGroup(t, Config{Capacity: 1 << 40}, WithSweepInterval(0))
	ctx := context.Background()
	for i := range n {
		if err := g.Set(ctx, memKey(i, keyLen), make([]byte, valLen), 0); err != nil {
			t.Fatal(err)
		}
	}
	g.sync()
	return g.Stats().Bytes, g
}

func fillNegative(t *testing.T, n, keyLen, _ int) (int64, any) {
	g := newGroup(t, Config{Capacity: 1 << 40, NegativeTTL: time.Hour, Loader: &mapSource{m: map[string]string{}}},
		WithSweepInterval(0))
	ctx := context.Background()
	for i := range n {
		if _, err := g.Get(ctx, memKey(i, keyLen)); err == nil {
			t.Fatal("Get found a key the source does not have")
		}
	}
	g.sync()
	if s := g.Stats(); s.Items != int64(n) {
		t.Fatalf("%d negative entries held, want %d", s.Items, n)
	}
	return g.Stats().Bytes, g
}

func fillHot(t *testing.T, n, keyLen, valLen int) (int64, any) {
	c := newHotCache(1 << 40)
	for i := range n {
		key := memKey(i, keyLen)
		h := uint64(i) * 0x9e3779b97f4a7c15
		c.offer(key, h, make([]byte, valLen), 0, 0) // the doorkeeper's first sight
		if !c.offer(key, h, make([]byte, valLen), 0, 0) {
			t.Fatal("hot cache refused a key offered twice")
		}
		if len(c.seen) >= hotWindow-1 {
			clear(c.seen) // so that the doorkeeper's map does not count
		}
	}
	_, bytes := c.stats()
	return bytes, c
}

// TestAccountingMatchesHeap fills groups with entries of several kinds
// and checks that the bytes a group accounts for are within 20% of the Go
// heap it grew by, so that a group's capacity bounds the memory it holds.
func TestAccountingMatchesHeap(t *testing.T) {
	if testing.Short() {
		t.Skip("fills groups with hundreds of thousands of entries")
	}
	cases := []memCase{
		{"small", 200_000, 16, 100, fillSet},
		{"tiny", 200_000, 16, 8, fillSet},
		{"large", 5_000, 16, 4000, fillSet},
		{"huge", 200, 16, 100_000, fillSet},
		{"negative", 200_000, 16, 0, fillNegative},
		{"hot", 100_000, 16, 100, fillHot},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if raceEnabled && c.n >= 50_000 {
				c.n /= 4 // same figures, a quarter of the wait
			}
			before := heapInUse()
			accounted, keep := c.fill(t, c.n, c.keyLen, c.valLen)
			grown := heapInUse() - before
			runtime.KeepAlive(keep)
			data := int64(c.keyLen + c.valLen)
			perEntry := float64(grown) / float64(c.n)
			t.Logf("%d entries of %d+%d bytes: heap +%d B (%.1f B/entry, %.1f beyond key and value); accounted %d B (%.1f B/entry, %.1f beyond)",
				c.n, c.keyLen, c.valLen, grown, perEntry, perEntry-float64(data),
				accounted, float64(accounted)/float64(c.n), float64(accounted)/float64(c.n)-float64(data))
			if lo, hi := 0.8*float64(grown), 1.2*float64(grown); float64(accounted) < lo || float64(accounted) > hi {
				t.Errorf("accounted %d bytes for a heap growth of %d: off by more than 20%%", accounted, grown)
			}
		})
	}
}

// TestCostOf checks the cost formula's edges: page rounding past 32 KiB,
// and keys or values too long for an entry's header.
func TestCostOf(t *testing.T) {
	for _, tc := range []struct {
		name       string
		klen, vlen int
		want       int64
	}{
		{"small", 16, 100, 116 + EntryOverhead},
		{"empty", 0, 0, EntryOverhead},
		{"largest small block", 16, maxSmallAlloc - entryHeader - 16 - 16, int64(maxSmallAlloc - entryHeader - 16 + EntryOverhead)},
		{"just past it", 16, maxSmallAlloc - entryHeader - 16 - 15, int64(maxSmallAlloc - entryHeader - 15 + EntryOverhead + allocPage - 1)},
		{"whole pages", 16, 5*allocPage - entryHeader - 16 - 16, int64(5*allocPage - entryHeader - 16 + EntryOverhead)},
		{"key too long", keyLenMask + 1, 0, math.MaxInt64},
		{"longest key", keyLenMask, 0, int64(keyLenMask + EntryOverhead + (allocPage-(entryHeader+16+keyLenMask)%allocPage)%allocPage)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := costOf(tc.klen, tc.vlen); got != tc.want {
				t.Errorf("costOf(%d, %d) = %d, want %d", tc.klen, tc.vlen, got, tc.want)
			}
		})
	}
}
