package plugin

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/distcache/distcache/server/cache"
)

// shippedPolicies are the Go policies the repository ships, by package.
var shippedPolicies = []string{"policy/lru", "policy/wtinylfu", "policy/arc", "policy/lfu", "policy/fifo", "policy/sieve", "policy/s3fifo"}

// fillResult is what [fillPolicy] measured.
type fillResult struct {
	inserted  int           // inserts applied before the policy failed, or all of them
	resident  int           // entries held after them (inserts less victims)
	base, mem uint32        // guest memory after init and at the end (the last seen if it failed), in bytes
	took      time.Duration // time for the inserts
	err       error         // why the policy failed, or nil
}

// bytesPerEntry is the guest memory the entries took, per resident entry.
func (r fillResult) bytesPerEntry() float64 {
	return float64(r.mem-r.base) / float64(max(r.resident, 1))
}

func (r fillResult) String() string {
	return fmt.Sprintf("%d inserts, %d resident, guest memory %.1f MiB (%.1f MiB at start), %.1f B/entry, %v",
		r.inserted, r.resident, float64(r.mem)/(1<<20), float64(r.base)/(1<<20), r.bytesPerEntry(), r.took.Round(time.Millisecond))
}

// spread is splitmix64's finalizer: distinct, well-spread key hashes.
func spread(i uint64) uint64 {
	i += 0x9e3779b97f4a7c15
	i = (i ^ i>>30) * 0xbf58476d1ce4e5b9
	i = (i ^ i>>27) * 0x94d049bb133111eb
	return i ^ i>>31
}

// fillPolicy drives p as a group of capacity bytes does: n inserts of
// distinct keys of cost bytes each, in batches of maxEvents, asking after
// each batch for victims to bring the entries back under the capacity. It
// stops at the first failure of the instance.
func fillPolicy(p *Policy, capacity int64, n int, cost int64) fillResult {
	res := fillResult{base: p.inst.Memory().Size()}
	start := time.Now()
	batch := make([]cache.Event, 0, maxEvents)
	var victims []uint64
	var bytes int64
	for i := range n {
		batch = append(batch, cache.Event{Op: cache.OpInsert, Hash: spread(uint64(i)), Cost: cost})
		if len(batch) < cap(batch) && i < n-1 {
			continue
		}
		p.Apply(batch)
		bytes += int64(len(batch)) * cost
		batch = batch[:0]
		if over := bytes - capacity; over > 0 {
			victims = p.Evict(over, victims[:0])
			bytes -= int64(len(victims)) * cost
		} else {
			p.Evict(0, nil) // apply the batch now
		}
		if p.Err() != nil {
			break
		}
		res.inserted, res.resident = i+1, int(bytes/cost)
		res.mem = p.inst.Memory().Size()
	}
	res.took = time.Since(start)
	res.err = p.Err()
	return res
}

// newShippedPolicy compiles the policy built from pkg on rt and starts an
// instance for a group of capacity bytes, closed when the test ends.
func newShippedPolicy(t testing.TB, rt *testRuntime, pkg string, capacity int64) *Policy {
	t.Helper()
	m, err := rt.Compile(context.Background(), "p", buildWasm(t, pkg))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(context.Background()) })
	p, err := m.NewPolicy(context.Background(), capacity)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// entryCost8 is the cost of an entry with a 1-byte key and an 8-byte
// value, the smallest the issue measured.
const entryCost8 = 1 + 8 + cache.EntryOverhead

// BenchmarkPolicyGuestBytes fills each shipped policy with 1,000,000
// entries (a group large enough to hold them all) and reports the guest
// memory they took per entry, and the time per insert.
func BenchmarkPolicyGuestBytes(b *testing.B) {
	const n = 1_000_000
	for _, pkg := range shippedPolicies {
		b.Run(pkg[len("policy/"):], func(b *testing.B) {
			rt := newTestRuntime(b, Config{})
			var res fillResult
			for b.Loop() {
				p := newShippedPolicy(b, rt, pkg, n*entryCost8)
				res = fillPolicy(p, n*entryCost8, n, entryCost8)
				if res.err != nil {
					b.Fatalf("%s failed after %v", pkg, res)
				}
				p.Close()
			}
			b.ReportMetric(res.bytesPerEntry(), "guest-B/entry")
			b.ReportMetric(float64(res.mem)/(1<<20), "guest-MiB")
			b.ReportMetric(float64(res.took.Nanoseconds())/n, "ns/insert")
		})
	}
}

func TestPolicyMemoryLimit(t *testing.T) {
	for _, tc := range []struct {
		capacity, want int64
	}{
		{0, PolicyMemoryBase},
		{-1, PolicyMemoryBase},
		{minEntryCost - 1, PolicyMemoryBase},
		{64 << 20, PolicyMemoryBase + (64<<20)/minEntryCost*PolicyMemoryPerEntry},
		{10_000_000 * minEntryCost, PolicyMemoryBase + 10_000_000*PolicyMemoryPerEntry},
		{1 << 40, MaxMemoryBytes},
		{1<<63 - 1, MaxMemoryBytes},
	} {
		if got := PolicyMemoryLimit(tc.capacity); got != tc.want {
			t.Errorf("PolicyMemoryLimit(%d) = %d, want %d", tc.capacity, got, tc.want)
		}
	}
	if got := PolicyMemoryLimit(64 << 20); got>>20 != 144 {
		t.Errorf("a 64 MiB group's policy gets %d MiB, the docs say 144", got>>20)
	}
}

// TestPolicyMemoryCap: an instance's memory stops at its cap, the derived
// one or the configured one, and the policy traps there.
func TestPolicyMemoryCap(t *testing.T) {
	const group = 8 << 20 // 8 MiB: 129,055 of the smallest entries
	for _, tc := range []struct {
		name     string
		override int   // Config.PolicyMemoryLimitMiB
		want     int64 // the instance's cap
		fails    bool  // whether filling the group fails
	}{
		{"derived", 0, PolicyMemoryLimit(group), false},
		{"configured", 6, 6 << 20, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := newTestRuntime(t, Config{PolicyMemoryLimitMiB: tc.override})
			p := newShippedPolicy(t, rt, "policy/lru", group)
			if p.MemoryLimit() != tc.want {
				t.Fatalf("MemoryLimit() = %d, want %d", p.MemoryLimit(), tc.want)
			}
			res := fillPolicy(p, group, group/minEntryCost, minEntryCost)
			t.Logf("%v", res)
			if failed := res.err != nil; failed != tc.fails {
				t.Fatalf("failed = %v (%v), want %v", failed, res.err, tc.fails)
			}
			if int64(res.mem) > tc.want {
				t.Fatalf("guest memory %d is over the cap %d", res.mem, tc.want)
			}
		})
	}
}

// TestShippedPoliciesFitTheirGroup fills a group of 200,000 of the
// smallest entries with three times as many keys through each shipped
// policy, so that ARC's ghost lists fill too: none may run out of the
// memory its group's capacity gives it.
func TestShippedPoliciesFitTheirGroup(t *testing.T) {
	const entries = 200_000
	capacity := int64(entries * minEntryCost)
	rt := newTestRuntime(t, Config{})
	for _, pkg := range shippedPolicies {
		t.Run(pkg, func(t *testing.T) {
			p := newShippedPolicy(t, rt, pkg, capacity)
			res := fillPolicy(p, capacity, 3*entries, minEntryCost)
			t.Logf("%v; cap %d MiB", res, p.MemoryLimit()>>20)
			if res.err != nil {
				t.Fatal(res.err)
			}
		})
	}
}
