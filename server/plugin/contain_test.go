package plugin

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/distcache/distcache/server/cache"
)

// managedGroup is a group whose policy comes from a manager over dir.
func managedGroup(t *testing.T, rt *testRuntime, dir, policy string, capacity int64) (*Manager, *cache.Group) {
	t.Helper()
	m := NewManager(rt.Runtime, dir)
	if err := m.LoadAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	g, err := cache.NewGroup(cache.Config{Name: "g", Capacity: capacity})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close(); m.Close() })
	if err := m.BindPolicy(context.Background(), g, policy, capacity); err != nil {
		t.Fatal(err)
	}
	return m, g
}

func writeModule(t *testing.T, dir, name string, wasm []byte) string {
	t.Helper()
	path := filepath.Join(dir, name+".wasm")
	if err := os.WriteFile(path, wasm, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// setCost stores a key whose entry costs exactly cost bytes.
func setCost(t *testing.T, g *cache.Group, key string, cost int) {
	t.Helper()
	value := make([]byte, cost-len(key)-cache.EntryOverhead)
	if err := g.Set(context.Background(), key, value, 0); err != nil {
		t.Fatal(err)
	}
}

func TestPolicyFailureFallsBackToNativeLRU(t *testing.T) {
	for _, tc := range []struct {
		name, reason string
		trigger      int
	}{
		{"trap", reasonTrap, 666},
		{"loops forever", reasonDeadline, 777},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := newTestRuntime(t, Config{PolicyCallTimeout: 200 * time.Millisecond})
			dir := t.TempDir()
			writeModule(t, dir, "bad", buildWasm(t, "server/plugin/testdata/badpolicy"))
			_, g := managedGroup(t, rt, dir, "bad", 4000)
			if got := g.Stats().Policy; !strings.HasPrefix(got, "bad (wasm") {
				t.Fatalf("policy = %q, want the plugin", got)
			}
			setCost(t, g, "trigger", tc.trigger)
			for i := range 40 { // fill past capacity so the policy is called
				setCost(t, g, "k"+string(rune('a'+i%26))+string(rune('a'+i/26)), 300)
				if s := g.Stats(); s.Bytes > s.Capacity {
					t.Fatalf("bytes %d over capacity %d while the policy failed", s.Bytes, s.Capacity)
				}
			}
			waitFor(t, "the native LRU fallback", func() bool { return g.Stats().Policy == "lru (native)" })
			if n := rt.counter(t, "distcache.plugin.failures", map[string]string{"plugin": "bad", "reason": tc.reason}); n != 1 {
				t.Fatalf("failures{reason=%s} = %d, want 1\nlogs:\n%s", tc.reason, n, rt.logs)
			}
			if n := rt.counter(t, "distcache.policy.fallbacks.native", map[string]string{"group": "g", "reason": "failed"}); n != 1 {
				t.Fatalf("fallbacks = %d, want 1", n)
			}
			if !strings.Contains(rt.logs.String(), "plugin=bad") || !strings.Contains(rt.logs.String(), "reason="+tc.reason) {
				t.Fatalf("no log line naming the plugin and reason:\n%s", rt.logs)
			}
			// The group goes on serving with the fallback.
			setCost(t, g, "after", 300)
			if _, err := g.Get(context.Background(), "after"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestMissingPolicyUsesNativeLRU(t *testing.T) {
	rt := newTestRuntime(t, Config{})
	dir := t.TempDir()
	m, g := managedGroup(t, rt, dir, "nope", 4000)
	if got := g.Stats().Policy; got != "lru (native)" {
		t.Fatalf("policy = %q, want the native LRU", got)
	}
	if n := rt.counter(t, "distcache.policy.fallbacks.native", map[string]string{"reason": "missing"}); n != 1 {
		t.Fatalf("fallbacks{missing} = %d, want 1", n)
	}
	if !strings.Contains(rt.logs.String(), "nope.wasm") {
		t.Fatalf("the warning does not name the missing file:\n%s", rt.logs)
	}
	// When the file arrives, the group switches to it.
	if err := m.Reload(context.Background(), writeModule(t, dir, "nope", buildWasm(t, "server/plugin/testdata/badpolicy"))); err != nil {
		t.Fatal(err)
	}
	if got := g.Stats().Policy; !strings.HasPrefix(got, "nope (wasm") {
		t.Fatalf("policy after the file arrived = %q", got)
	}
}

func TestRefusedModuleKeepsPreviousVersion(t *testing.T) {
	rt := newTestRuntime(t, Config{PolicyCallTimeout: 300 * time.Millisecond})
	dir := t.TempDir()
	good := buildWasm(t, "server/plugin/testdata/badpolicy")
	path := writeModule(t, dir, "p", good)
	m, g := managedGroup(t, rt, dir, "p", 4000)
	before := m.Plugins()
	for _, bad := range []struct{ name, pkg string }{
		{"wrong abi", "server/plugin/testdata/badabi"},
		{"bad import", "server/plugin/testdata/badimport"},
		{"init trap", "server/plugin/testdata/initpanic"},
		{"init loop", "server/plugin/testdata/initloop"},
		{"not wasm", ""},
	} {
		t.Run(bad.name, func(t *testing.T) {
			wasm := []byte("not wasm at all")
			if bad.pkg != "" {
				wasm = buildWasm(t, bad.pkg)
			}
			writeModule(t, dir, "p", wasm)
			err := m.Reload(context.Background(), path)
			if err == nil || !strings.Contains(err.Error(), path) {
				t.Fatalf("Reload = %v, want a refusal naming %s", err, path)
			}
			after := m.Plugins()
			if len(after) != 1 || after[0].SHA256 != before[0].SHA256 || !strings.HasPrefix(g.Stats().Policy, "p (wasm") {
				t.Fatalf("a refused module replaced the serving one: %+v", after)
			}
			if !strings.Contains(rt.logs.String(), path) {
				t.Fatalf("no log line names %s", path)
			}
		})
	}
	if n := rt.counter(t, "distcache.plugin.failures", map[string]string{"plugin": "p", "reason": reasonInvalid}); n != 5 {
		t.Fatalf("failures{invalid} = %d, want 5", n)
	}
}

func TestLoaderContainment(t *testing.T) {
	rt := newTestRuntime(t, Config{MemoryLimitMiB: 32})
	mod, err := rt.Compile(context.Background(), "raw", buildWasm(t, "server/plugin/testdata/rawloader"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := mod.NewLoader("g", LoaderConfig{})
	if err != nil {
		t.Fatal(err)
	}
	load := func(key string, timeout time.Duration) (cache.Loaded, error) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		return l.Load(ctx, key)
	}
	for _, tc := range []struct {
		key, want, reason string
	}{
		{"hog", "", reasonTrap},
		{"spin", "deadline", reasonDeadline},
		{"boom", "", reasonTrap},
		{"missing", "not found", ""},
		{"fail", "backend said no", ""},
	} {
		t.Run(tc.key, func(t *testing.T) {
			res, err := load(tc.key, 2*time.Second)
			if err == nil || res.Value != nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load(%q) = %q, %v; want an error containing %q", tc.key, res.Value, err, tc.want)
			}
			if tc.reason != "" {
				if n := rt.counter(t, "distcache.plugin.failures", map[string]string{"plugin": "raw", "reason": tc.reason}); n < 1 {
					t.Fatalf("no failure counted with reason %s\n%s", tc.reason, rt.logs)
				}
			}
			// The pool replaced any broken instance: the next call works.
			res, err = load("k", 10*time.Second)
			if err != nil || string(res.Value) != "raw:k" || res.TTL != 5*time.Minute {
				t.Fatalf("Load after %q = %q (ttl %v), %v", tc.key, res.Value, res.TTL, err)
			}
		})
	}
	if _, err := load("missing", time.Second); !errors.Is(err, cache.ErrNotFound) {
		t.Fatalf("not found is %v, want cache.ErrNotFound", err)
	}
}
