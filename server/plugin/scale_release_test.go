//go:build !race

package plugin

import (
	"os"
	"slices"
	"testing"
	"time"
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
