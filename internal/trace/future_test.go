package trace

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// randomKeys returns n keys drawn uniformly from 0..keys-1.
func randomKeys(n int, keys uint64, seed uint64) []uint64 {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := make([]uint64, n)
	for i := range out {
		out[i] = rng.Uint64N(keys)
	}
	return out
}

func TestFutureDistinct(t *testing.T) {
	for _, n := range []int{0, 1, 1000, 200_000} { // 200,000 shards the index
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			keys := randomKeys(n, 30000, 4)
			sizes := make([]uint32, n)
			first := make(map[uint64]uint32)
			var bytes int64
			for i, k := range keys {
				sizes[i] = uint32(k%7 + 1)
				if _, ok := first[k]; !ok {
					first[k] = sizes[i]
					bytes += int64(sizes[i])
				}
			}
			f, err := NewFuture(keys, sizes)
			if err != nil {
				t.Fatal(err)
			}
			if f.Distinct() != len(first) || f.DistinctBytes() != bytes || f.Len() != n {
				t.Fatalf("distinct %d, bytes %d; want %d, %d", f.Distinct(), f.DistinctBytes(), len(first), bytes)
			}
			// ids are dense and name keys one to one; next is the next request.
			idOf := make(map[uint64]uint32)
			for i, k := range keys {
				if id, ok := idOf[k]; ok && id != f.ids[i] || f.ids[i] >= uint32(f.Distinct()) {
					t.Fatalf("request %d: id %d", i, f.ids[i])
				}
				idOf[k] = f.ids[i]
				if n > 1000 {
					continue
				}
				want := uint32(never)
				if j := slices.Index(keys[i+1:], k); j >= 0 {
					want = uint32(i + 1 + j)
				}
				if f.next[i] != want {
					t.Fatalf("next[%d] = %d, want %d", i, f.next[i], want)
				}
			}
			if len(idOf) != f.Distinct() {
				t.Fatalf("%d ids for %d keys", len(idOf), f.Distinct())
			}
		})
	}
}

// naiveOPT is Belady's MIN with bypass, by brute force: on a miss with a
// full cache, of the residents and the newcomer the one requested furthest
// away (or never) stays out.
func naiveOPT(keys []uint64, capacity int) int64 {
	nextUse := func(i int, k uint64) int {
		if j := slices.Index(keys[i+1:], k); j >= 0 {
			return i + 1 + j
		}
		return len(keys) + 1
	}
	var hits int64
	var cache []uint64
	for i, k := range keys {
		if slices.Contains(cache, k) {
			hits++
			continue
		}
		if len(cache) < capacity {
			if nextUse(i, k) <= len(keys) {
				cache = append(cache, k)
			}
			continue
		}
		worst, far := -1, nextUse(i, k) // -1: the newcomer
		for j, r := range cache {
			if u := nextUse(i, r); u > far {
				worst, far = j, u
			}
		}
		if worst >= 0 {
			cache[worst] = k
		}
	}
	return hits
}

func TestOPTMatchesNaive(t *testing.T) {
	for seed := range uint64(20) {
		keys := randomKeys(600, 40+seed*3, seed)
		f, err := NewFuture(keys, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []int{1, 2, 5, 17, 40, 100} {
			got, want := f.OPT(c), naiveOPT(keys, c)
			if got != want {
				t.Fatalf("seed %d capacity %d: OPT %d hits, naive %d", seed, c, got, want)
			}
			if seed == 0 {
				t.Logf("capacity %d: %d hits", c, got)
			}
		}
	}
}

// TestOPTBoundsReferences: no reference, nor a policy driven by Replay,
// hits more often than OPT, on random, Zipf and looping traces.
func TestOPTBoundsReferences(t *testing.T) {
	traces := map[string][]uint64{
		"random": randomKeys(20000, 3000, 7),
		"loop":   must(Collect(Loop(20000, 1500))),
	}
	for _, s := range []float64{0.6, 0.99, 1.3} {
		traces[fmt.Sprint("zipf ", s)] = must(Collect(Zipf(20000, 8000, s, 3)))
	}
	for name, keys := range traces {
		f, err := NewFuture(keys, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []int{10, 100, 1000} {
			opt := f.OPT(c)
			if h, _, _ := ReplayOPT(Slice(keys), c); h != opt {
				t.Fatalf("%s/%d: ReplayOPT %d, OPT %d", name, c, h, opt)
			}
			for _, ref := range References() {
				hits, _, err := ref.Replay(Slice(keys), c)
				if err != nil {
					t.Fatal(err)
				}
				if hits > opt {
					t.Errorf("%s capacity %d: %s hits %d > OPT %d", name, c, ref.Name, hits, opt)
				}
			}
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestOPTSized(t *testing.T) {
	keys := randomKeys(20000, 2000, 9)
	ones := make([]uint32, len(keys))
	for i := range ones {
		ones[i] = 1
	}
	f1, _ := NewFuture(keys, ones)
	f, _ := NewFuture(keys, nil)
	for _, c := range []int{1, 10, 500} {
		if got, want := f1.OPTSized(int64(c)), f.OPT(c); got != want {
			t.Errorf("capacity %d: OPTSized with unit sizes %d, OPT %d", c, got, want)
		}
	}
	// Objects larger than the cache never hit; the rest can.
	sizes := make([]uint32, len(keys))
	for i, k := range keys {
		sizes[i] = uint32(10 + 1000*(k%2))
	}
	fs, _ := NewFuture(keys, sizes)
	big := fs.OPTSized(500)
	var small int64
	seen := map[uint64]bool{}
	for _, k := range keys {
		if k%2 == 0 && seen[k] {
			small++
		}
		seen[k] = true
	}
	if big == 0 || big > small {
		t.Errorf("OPTSized(500) = %d hits; want some, at most the %d re-requests of small objects", big, small)
	}
	defer func() {
		if recover() == nil {
			t.Error("OPTSized without sizes did not panic")
		}
	}()
	f.OPTSized(10)
}

func TestReplaySized(t *testing.T) {
	keys := randomKeys(20000, 1500, 11)
	ones := make([]uint32, len(keys))
	sizes := make([]uint32, len(keys))
	for i, k := range keys {
		ones[i] = 1
		sizes[i] = uint32(k%50 + 1)
	}
	t.Run("unit sizes are Replay", func(t *testing.T) {
		for _, c := range []int{1, 100, 1000} {
			a, _, _ := ReplayLRU(Slice(keys), c)
			b, _, _ := ReplayLRUSized(SizedSlice(keys, ones), int64(c))
			if a != b {
				t.Errorf("capacity %d: sized %d hits, unsized %d", c, b, a)
			}
		}
	})
	t.Run("byte LRU", func(t *testing.T) {
		for _, c := range []int64{30, 1000, 20000} {
			got, total, err := ReplayLRUSized(SizedSlice(keys, sizes), c)
			if err != nil || total != int64(len(keys)) {
				t.Fatal(err, total)
			}
			if want := byteLRU(keys, sizes, c); got != want {
				t.Errorf("capacity %d: %d hits, a byte LRU %d", c, got, want)
			}
		}
	})
	t.Run("too large is not kept", func(t *testing.T) {
		p := &counter{evict: func(dst []uint64) []uint64 { return dst }}
		big := make([]uint32, len(keys))
		for i := range big {
			big[i] = 100
		}
		hits, _, _ := ReplaySized(p, SizedSlice(keys, big), 99)
		if hits != 0 || p.inserts != 0 {
			t.Errorf("%d hits, %d inserts of objects larger than the cache", hits, p.inserts)
		}
	})
	t.Run("otter", func(t *testing.T) {
		hits, total, err := ReplayOtterSized(SizedSlice(keys, sizes), 5000)
		if err != nil || hits == 0 || total != int64(len(keys)) {
			t.Errorf("hits %d, total %d, err %v", hits, total, err)
		}
		if _, _, err := ReplayOtterSized(SizedSlice(keys, sizes), 0); err == nil {
			t.Error("capacity 0: no error")
		}
	})
}

// byteLRU counts the hits of an obviously correct LRU of capacity bytes.
func byteLRU(keys []uint64, sizes []uint32, capacity int64) int64 {
	var hits, used int64
	var order []uint64
	cost := map[uint64]int64{}
	for i, k := range keys {
		if j := slices.Index(order, k); j >= 0 {
			hits++
			order = append(slices.Delete(order, j, j+1), k)
			continue
		}
		c := int64(sizes[i])
		if c > capacity {
			continue
		}
		for used+c > capacity {
			used -= cost[order[0]]
			order = order[1:]
		}
		cost[k] = c
		used += c
		order = append(order, k)
	}
	return hits
}
