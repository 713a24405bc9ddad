package plugin

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/distcache/distcache/server/cache"
)

// gauge returns the int64 gauge's points by their group attribute.
func (r *testRuntime) gauge(t testing.TB, name string) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			g, ok := m.Data.(metricdata.Gauge[int64])
			if m.Name != name || !ok {
				continue
			}
			for _, dp := range g.DataPoints {
				group, _ := dp.Attributes.Value("group")
				out[group.AsString()] += dp.Value
			}
		}
	}
	return out
}

// stateLog records what a manager's OnPolicyState hook hears.
type stateLog struct {
	mu     sync.Mutex
	events []string
}

func (s *stateLog) hook(group string, f *PolicyFailure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f == nil {
		s.events = append(s.events, group+" ok")
		return
	}
	s.events = append(s.events, fmt.Sprintf("%s failed: %s %s", group, f.Policy, f.Reason))
}

func (s *stateLog) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.events, "; ")
}

// TestPolicyOutOfMemoryIsLoud fills a group whose policy instance has too
// little memory for it: when the instance runs out, the native LRU takes
// over, and that is logged once at ERROR with the group, plugin and cause,
// counted, shown by Plugins and PolicyFailures, and told to the state
// hook. Reloading the plugin clears it all.
func TestPolicyOutOfMemoryIsLoud(t *testing.T) {
	rt := newTestRuntime(t, Config{PolicyMemoryLimitMiB: 4})
	dir := t.TempDir()
	path := writeModule(t, dir, "lru", buildWasm(t, "policy/lru"))
	m := NewManager(rt.Runtime, dir)
	var states stateLog
	m.OnPolicyState(states.hook)
	if err := m.LoadAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	const capacity = 64 << 20
	g, err := cache.NewGroup(cache.Config{Name: "g", Capacity: capacity})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close(); m.Close() })
	if err := m.BindPolicy(context.Background(), g, "lru", capacity); err != nil {
		t.Fatal(err)
	}
	// 4 MiB hold the Go runtime and some 40,000 entries: 100,000 are more.
	for i := 0; i < 100_000 && g.Stats().Policy != "lru (native)"; i++ {
		if err := g.Set(context.Background(), fmt.Sprint(i), nil, 0); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the native LRU fallback", func() bool { return len(m.PolicyFailures()) == 1 })

	f := m.PolicyFailures()[0]
	if f.Group != "g" || f.Policy != "lru" || f.Reason != reasonTrap || f.Err == nil || f.At.IsZero() {
		t.Fatalf("PolicyFailures() = %+v", f)
	}
	logs := rt.logs.String()
	if n := strings.Count(logs, "level=ERROR"); n != 1 {
		t.Errorf("%d lines at ERROR, want 1:\n%s", n, logs)
	}
	for _, want := range []string{"level=ERROR msg=\"policy failed", "group=g", "plugin=lru", "reason=trap", "memory_limit_mib=4"} {
		if !strings.Contains(logs, want) {
			t.Errorf("no %q in the logs:\n%s", want, logs)
		}
	}
	if n := rt.counter(t, "distcache.policy.fallbacks.native", map[string]string{"group": "g", "reason": "failed"}); n != 1 {
		t.Errorf("fallbacks{failed} = %d, want 1", n)
	}
	if n := rt.counter(t, "distcache.plugin.failures", map[string]string{"plugin": "lru", "reason": reasonTrap}); n != 1 {
		t.Errorf("failures{trap} = %d, want 1", n)
	}
	if got := rt.gauge(t, "distcache.policy.failed"); got["g"] != 1 {
		t.Errorf("distcache.policy.failed = %v, want g: 1", got)
	}
	info := m.Plugins()
	if len(info) != 1 || len(info[0].Groups) != 0 || len(info[0].Failed) != 1 || info[0].Failed[0].Group != "g" {
		t.Errorf("Plugins() = %+v, want lru with g failed", info)
	}
	if got := states.String(); got != "g failed: lru trap" {
		t.Errorf("state hook heard %q", got)
	}

	// A new version of the plugin is a fresh start (for a group it fits:
	// it would fail again at once with every key replayed into it).
	g.Purge()
	writeModule(t, dir, "lru", withVersion(buildWasm(t, "policy/lru"), 0, 1))
	if err := m.Reload(context.Background(), path); err != nil {
		t.Fatal(err)
	}
	if fs := m.PolicyFailures(); len(fs) != 0 {
		t.Errorf("PolicyFailures() = %+v after a reload", fs)
	}
	if got := rt.gauge(t, "distcache.policy.failed"); got["g"] != 0 {
		t.Errorf("distcache.policy.failed = %v after a reload", got)
	}
	if info := m.Plugins(); len(info[0].Failed) != 0 || len(info[0].Groups) != 1 {
		t.Errorf("Plugins() = %+v after a reload", info)
	}
	if got := states.String(); got != "g failed: lru trap; g ok" {
		t.Errorf("state hook heard %q", got)
	}
}
