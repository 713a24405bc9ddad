package cache

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
)

// capFor returns a capacity that holds exactly n entries of key length 1
// and value length 1.
func capFor(n int) int64 { return int64(n) * entryCost("a", []byte("1")) }

func resident(g *Group, key string) bool {
	e := g.store.get(key, g.store.hash(key))
	return e != nil
}

func TestLRUEvictionOrder(t *testing.T) {
	g := newGroup(t, Config{Capacity: capFor(3)})
	mustSet(t, g, "a", "1")
	mustSet(t, g, "b", "1")
	mustSet(t, g, "c", "1")
	mustGet(t, g, "a") // a is now more recent than b
	mustSet(t, g, "d", "1")
	for key, want := range map[string]bool{"a": true, "b": false, "c": true, "d": true} {
		if resident(g, key) != want {
			t.Errorf("resident(%q) = %v, want %v", key, !want, want)
		}
	}
	if s := g.Stats(); s.Evictions != 1 || s.Items != 3 || s.Bytes != capFor(3) {
		t.Fatalf("stats = %+v", s)
	}
}

func TestUpdateGrowsAndEvictsOthers(t *testing.T) {
	g := newGroup(t, Config{Capacity: capFor(3)})
	mustSet(t, g, "a", "1")
	mustSet(t, g, "b", "1")
	mustSet(t, g, "c", "1")
	mustSet(t, g, "c", "123") // two bytes more than fits: evict a (oldest)
	if resident(g, "a") || !resident(g, "b") || !resident(g, "c") {
		t.Fatal("growing c should evict only a")
	}
	if s := g.Stats(); s.Bytes > s.Capacity {
		t.Fatalf("bytes %d over capacity %d", s.Bytes, s.Capacity)
	}
}

// policyFunc lets a test make a policy that misbehaves.
type policyFunc struct {
	apply func([]Event)
	evict func(int64, []uint64) []uint64
}

func (p policyFunc) Apply(ev []Event) {
	if p.apply != nil {
		p.apply(ev)
	}
}
func (p policyFunc) Evict(need int64, dst []uint64) []uint64 { return p.evict(need, dst) }

func TestMisbehavingPolicyCannotOverfill(t *testing.T) {
	for _, tc := range []struct {
		name  string
		evict func(int64, []uint64) []uint64
	}{
		{"names nothing", func(_ int64, dst []uint64) []uint64 { return dst }},
		{"names unknown hashes", func(_ int64, dst []uint64) []uint64 { return append(dst, 1, 2, 3) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGroup(t, Config{Capacity: capFor(4), Policy: policyFunc{evict: tc.evict}})
			for i := range 20 {
				mustSet(t, g, fmt.Sprint(i%10), "1")
				if s := g.Stats(); s.Bytes > s.Capacity {
					t.Fatalf("bytes %d over capacity %d", s.Bytes, s.Capacity)
				}
			}
			if s := g.Stats(); s.Fallbacks == 0 || s.Items != 4 {
				t.Fatalf("stats = %+v, want fallback evictions and 4 items", s)
			}
		})
	}
}

func TestSetPolicyReplaysResidentEntries(t *testing.T) {
	g := newGroup(t, Config{Capacity: capFor(10)})
	for i := range 5 {
		mustSet(t, g, fmt.Sprint(i), "1")
	}
	next := NewLRU()
	old := g.SetPolicy(next)
	if _, ok := old.(*LRU); !ok || next.Len() != 5 {
		t.Fatalf("new policy tracks %d entries, want the 5 resident", next.Len())
	}
	mustSet(t, g, "x", "1")
	g.sync()
	if next.Len() != 6 {
		t.Fatalf("new policy did not receive the insert after the swap")
	}
}

// TestHammer beats on one group from many goroutines and checks that the
// byte count never exceeds capacity and always matches what is stored.
func TestHammer(t *testing.T) {
	src := &mapSource{m: map[string]string{}}
	for i := range 200 {
		src.m[fmt.Sprint(i)] = string(make([]byte, i))
	}
	const capacity = 8 << 10
	g := newGroup(t, Config{Capacity: capacity, Loader: src, NegativeTTL: 1})
	var over atomic.Int64
	stop := make(chan struct{})
	var watch sync.WaitGroup
	watch.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if b := g.store.bytes.Load(); b > capacity {
				over.Store(b)
			}
		}
	})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 1))
			ctx := context.Background()
			for range 3000 {
				key := fmt.Sprint(r.IntN(250)) // 200..249 are not found
				switch r.IntN(10) {
				case 0:
					g.Set(ctx, key, make([]byte, r.IntN(300)), GroupTTL)
				case 1:
					g.Delete(ctx, key)
				default:
					g.Get(ctx, key)
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	watch.Wait()
	if b := over.Load(); b != 0 {
		t.Fatalf("store held %d bytes, over its capacity %d", b, capacity)
	}
	var sum, items int64
	g.store.each(func(e *entry) { sum += e.cost(); items++ })
	s := g.Stats()
	if sum != s.Bytes || items != s.Items {
		t.Fatalf("stats say %d bytes in %d items, store holds %d in %d", s.Bytes, s.Items, sum, items)
	}
	g.sync()
	lru := g.rules.Policy().(*LRU)
	if lru.Len() != int(items) {
		t.Fatalf("policy tracks %d entries, store holds %d", lru.Len(), items)
	}
	if s.Evictions == 0 || s.Hits == 0 || s.Fallbacks != 0 {
		t.Fatalf("stats = %+v: want evictions and hits, no fallbacks with the LRU", s)
	}
}

func TestPolicyMayRejectNewcomer(t *testing.T) {
	var last uint64
	rejecter := policyFunc{
		apply: func(ev []Event) {
			for _, e := range ev {
				if e.Op == OpInsert {
					last = e.Hash
				}
			}
		},
		evict: func(_ int64, dst []uint64) []uint64 { return append(dst, last) },
	}
	g := newGroup(t, Config{Capacity: capFor(2), Policy: rejecter, Loader: LoaderFunc(func(_ context.Context, key string) (Loaded, error) {
		return Loaded{Value: []byte("1")}, nil
	})})
	for _, k := range []string{"a", "b", "c"} {
		if _, err := g.Get(context.Background(), k); err != nil {
			t.Fatal(err)
		}
	}
	// The policy names c itself: a load is not admitted.
	if !resident(g, "a") || !resident(g, "b") || resident(g, "c") {
		t.Fatal("an admission policy's rejection of a loaded c was not honoured")
	}
	if s := g.Stats(); s.Items != 2 || s.Fallbacks != 0 {
		t.Fatalf("stats = %+v", s)
	}
	// A Set is acknowledged, so it is stored whatever the policy says:
	// another entry makes room.
	mustSet(t, g, "d", "1")
	if !resident(g, "d") {
		t.Fatal("an acknowledged Set was refused by the admission policy")
	}
	if s := g.Stats(); s.Items != 2 || s.Bytes > capFor(2) {
		t.Fatalf("after the Set: stats = %+v, capacity %d", s, capFor(2))
	}
}
