package trace

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/distcache/distcache/sdk/policy/evict"
	"github.com/distcache/distcache/server/cache"
)

func TestReplayExactLRU(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	keys := make([]uint64, 30000)
	for i := range keys {
		keys[i] = rng.Uint64N(500)
	}
	for _, capacity := range []int{1, 2, 10, 100, 499, 500, 1000} {
		t.Run(fmt.Sprint("capacity=", capacity), func(t *testing.T) {
			hits, total, err := Replay(cache.NewLRU(), Slice(keys), capacity)
			if err != nil {
				t.Fatal(err)
			}
			if want := simpleLRU(keys, capacity); hits != want || total != int64(len(keys)) {
				t.Errorf("hits, total = %d, %d; want %d, %d", hits, total, want, len(keys))
			}
		})
	}
}

func TestReplayLoop(t *testing.T) {
	tests := []struct {
		name     string
		length   uint64
		capacity int
		wantHits int64
	}{
		{"longer than cache", 101, 100, 0},
		{"much longer", 5000, 1000, 0},
		{"fits", 100, 100, 10000 - 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hits, total, err := Replay(cache.NewLRU(), Loop(10000, tt.length), tt.capacity)
			if err != nil {
				t.Fatal(err)
			}
			if hits != tt.wantHits || total != 10000 {
				t.Errorf("hits, total = %d, %d; want %d, 10000", hits, total, tt.wantHits)
			}
		})
	}
}

func TestReplayDrivesPolicyLikeAGroup(t *testing.T) {
	p := &recorder{lru: cache.NewLRU()}
	keys, _ := Collect(Zipf(20000, 2000, 0.9, 5))
	hits, total, err := Replay(p, Slice(keys), 300)
	if err != nil {
		t.Fatal(err)
	}
	if p.maxBatch > evict.MaxPending {
		t.Errorf("a batch of %d events, want at most %d", p.maxBatch, evict.MaxPending)
	}
	if p.accesses != hits || p.inserts != total-hits {
		t.Errorf("%d accesses, %d inserts; want %d, %d: events were lost", p.accesses, p.inserts, hits, total-hits)
	}
	if p.evictsWithPending > 0 {
		t.Errorf("%d Evict calls came before the events were applied", p.evictsWithPending)
	}
}

func TestReplayMisbehavingPolicy(t *testing.T) {
	tests := []struct {
		name  string
		evict func(dst []uint64) []uint64
	}{
		{"names nothing", func(dst []uint64) []uint64 { return dst }},
		{"names strangers", func(dst []uint64) []uint64 { return append(dst, 1, 2, 3) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &counter{evict: tt.evict}
			_, total, err := Replay(p, Zipf(5000, 300, 1, 2), 50)
			if err != nil {
				t.Fatal(err)
			}
			if total != 5000 || p.removes == 0 || p.inserts-p.removes > 50 {
				t.Errorf("total %d, %d inserts, %d removes: want 5000 requests, at most 50 resident",
					total, p.inserts, p.removes)
			}
		})
	}
}

func TestReplayRejectedNewcomer(t *testing.T) {
	keys, _ := Collect(Zipf(5000, 300, 1, 2))
	hits, _, err := Replay(&rejecter{}, Slice(keys), 50)
	if err != nil {
		t.Fatal(err)
	}
	frozen := make(map[uint64]bool) // the first 50 keys stay; no newcomer is admitted
	var want int64
	for _, k := range keys {
		switch {
		case frozen[k]:
			want++
		case len(frozen) < 50:
			frozen[k] = true
		}
	}
	if hits != want {
		t.Errorf("hits %d, want %d", hits, want)
	}
}

func TestReplayBadCapacity(t *testing.T) {
	if _, _, err := Replay(cache.NewLRU(), Loop(10, 5), 0); err == nil {
		t.Error("capacity 0: no error")
	}
}

func TestMix(t *testing.T) {
	seen := make(map[uint64]bool)
	for k := range uint64(100000) {
		h := Mix(k)
		if seen[h] {
			t.Fatalf("Mix(%d) collides", k)
		}
		seen[h] = true
	}
	if Mix(0) == 0 {
		t.Error("Mix(0) = 0")
	}
}

// simpleLRU counts the hits of an obviously correct LRU of capacity keys:
// most recent last.
func simpleLRU(keys []uint64, capacity int) int64 {
	var hits int64
	var order []uint64
	for _, k := range keys {
		if i := slices.Index(order, k); i >= 0 {
			hits++
			order = append(slices.Delete(order, i, i+1), k)
			continue
		}
		if len(order) == capacity {
			order = order[1:]
		}
		order = append(order, k)
	}
	return hits
}

// recorder wraps an LRU and checks how Replay calls it.
type recorder struct {
	lru               *cache.LRU
	accesses, inserts int64
	maxBatch          int
	lastWasApply      bool
	evictsWithPending int
}

func (r *recorder) Apply(events []cache.Event) {
	r.maxBatch = max(r.maxBatch, len(events))
	for _, ev := range events {
		switch ev.Op {
		case cache.OpAccess:
			r.accesses++
		case cache.OpInsert:
			r.inserts++
		}
	}
	r.lastWasApply = true
	r.lru.Apply(events)
}

// Evict counts a call not preceded by Apply: with unit costs every
// eviction follows a miss, whose insert must have been applied.
func (r *recorder) Evict(need int64, dst []uint64) []uint64 {
	if !r.lastWasApply {
		r.evictsWithPending++
	}
	r.lastWasApply = false
	return r.lru.Evict(need, dst)
}

// counter counts inserts and removes and evicts with a function.
type counter struct {
	inserts, removes int
	evict            func(dst []uint64) []uint64
}

func (c *counter) Apply(events []cache.Event) {
	for _, ev := range events {
		switch ev.Op {
		case cache.OpInsert:
			c.inserts++
		case cache.OpRemove:
			c.removes++
		}
	}
}

func (c *counter) Evict(_ int64, dst []uint64) []uint64 { return c.evict(dst) }

// rejecter names the newest insert: an admission policy that admits
// nothing once the cache is full.
type rejecter struct{ last uint64 }

func (r *rejecter) Apply(events []cache.Event) {
	for _, ev := range events {
		if ev.Op == cache.OpInsert {
			r.last = ev.Hash
		}
	}
}

func (r *rejecter) Evict(_ int64, dst []uint64) []uint64 { return append(dst, r.last) }
