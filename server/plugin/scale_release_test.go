//go:build !race

package plugin

import (
	"context"
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/distcache/distcache/server/cache"
)

// TestShippedPoliciesHoldTenMillion puts 10,000,000 of the smallest
// entries in one group through lru and wtinylfu (every shipped policy with
// DISTCACHE_TEN_MILLION=all: the others keep their entries in the same
// sdk/policy/hashlist, and take a minute each on a busy 2-core machine),
// under the memory cap the group's capacity gives them (1.2 GiB): none
// may fail. It drives the policy adapter as a group does, without a
// group's store, to stay fast. The race detector slows the host side
// several times, so it runs in the build without it (go tool task test
// runs it).
func TestShippedPoliciesHoldTenMillion(t *testing.T) {
	const entries = 10_000_000
	capacity := int64(entries * minEntryCost)
	rt := newTestRuntime(t, Config{})
	for _, pkg := range shippedPolicies {
		if os.Getenv("DISTCACHE_TEN_MILLION") != "all" && !slices.Contains([]string{"policy/lru", "policy/wtinylfu"}, pkg) {
			continue
		}
		t.Run(pkg[len("policy/"):], func(t *testing.T) {
			p := newShippedPolicy(t, rt, pkg, capacity)
			cpu := cpuTime()
			res := fillPolicy(p, capacity, entries, minEntryCost)
			t.Logf("%v (%v of CPU); cap %d MiB", res, (cpuTime() - cpu).Round(time.Millisecond), p.MemoryLimit()>>20)
			if res.err != nil || res.resident != entries {
				t.Fatalf("%d of %d entries resident: %v", res.resident, entries, res.err)
			}
			p.Close() // give its memory back before the next
		})
	}
}

// TestMissStormStaysOnThePolicy is the storm: 1,100,000 missing
// keys into a default-sized group (64 MiB, whose remembered not-founds
// are the smallest entries there are) whose policy is lru.wasm. The
// policy instance must hold them all, as the group does, and not fall
// back to the native LRU as it did at ~330,000 under the old fixed 64 MiB.
func TestMissStormStaysOnThePolicy(t *testing.T) {
	const capacity, keys = 64 << 20, 1_100_000
	rt := newTestRuntime(t, Config{})
	dir := t.TempDir()
	writeModule(t, dir, "lru", buildWasm(t, "policy/lru"))
	m := NewManager(rt.Runtime, dir)
	if err := m.LoadAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	notFound := cache.LoaderFunc(func(context.Context, string) (cache.Loaded, error) {
		return cache.Loaded{}, cache.ErrNotFound
	})
	g, err := cache.NewGroup(cache.Config{Name: "g", Capacity: capacity, Loader: notFound, NegativeTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close(); m.Close() })
	if err := m.BindPolicy(context.Background(), g, "lru", capacity); err != nil {
		t.Fatal(err)
	}
	start, cpu := time.Now(), cpuTime()
	for i := range keys {
		if _, err := g.Get(context.Background(), strconv.Itoa(i)); !errors.Is(err, cache.ErrNotFound) {
			t.Fatalf("Get %d: %v", i, err)
		}
	}
	s := g.Stats()
	t.Logf("%d missing keys in %v (%v of CPU): %d entries, %d bytes of %d, policy %s",
		keys, time.Since(start).Round(time.Millisecond), (cpuTime() - cpu).Round(time.Millisecond), s.Items, s.Bytes, s.Capacity, s.Policy)
	if !strings.HasPrefix(s.Policy, "lru (wasm") || len(m.PolicyFailures()) != 0 {
		t.Fatalf("the policy is %q after the storm; failures %v", s.Policy, m.PolicyFailures())
	}
	if s.Evictions == 0 || s.Fallbacks != 0 {
		t.Errorf("%d evictions, %d chosen by the group: want the policy to have chosen them all", s.Evictions, s.Fallbacks)
	}
}
