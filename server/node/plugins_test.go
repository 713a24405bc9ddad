package node

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"go.uber.org/goleak"

	distcachev1 "github.com/distcache/distcache/gen/distcache/v1"
	"github.com/distcache/distcache/internal/sqltest"
	"github.com/distcache/distcache/internal/wasmbuild"
	"github.com/distcache/distcache/server/plugin"
	"github.com/distcache/distcache/server/plugin/builtin"
)

var wasm wasmbuild.Builder

func TestMain(m *testing.M) {
	code := sqltest.Run(m) // and stops the database servers it started
	wasm.Cleanup()
	if code == 0 {
		// Every node a test started was closed: none of its goroutines
		// may outlive it.
		if err := goleak.Find(leakIgnores...); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// leakIgnores are goroutines of libraries that outlive their owners by
// design: the embedded etcd's and its client's background loops, and
// net/http's idle connection readers.
var leakIgnores = []goleak.Option{
	goleak.IgnoreAnyFunction("go.etcd.io/etcd/client/pkg/v3/logutil.(*MergeLogger).outputLoop"),
	goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
	goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
}

// install copies a built module into dir as name.wasm the way an operator
// would: write a temporary file, then rename it into place.
func install(t *testing.T, dir, name, pkg string) {
	t.Helper()
	tmp := filepath.Join(dir, "."+name+".tmp")
	if err := os.WriteFile(tmp, wasm.Bytes(t, pkg), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name+".wasm")); err != nil {
		t.Fatal(err)
	}
}

// precompile fills the shared compilation cache with the modules built
// from pkgs, so that swaps during a test do not wait on the compiler.
func precompile(t *testing.T, pkgs ...string) {
	t.Helper()
	rt, err := plugin.NewRuntime(context.Background(), plugin.Config{CacheDir: filepath.Join(wasm.Dir(t), "compiled")})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(context.Background())
	for _, pkg := range pkgs {
		if _, err := rt.Compile(context.Background(), "warm", wasm.Bytes(t, pkg)); err != nil {
			t.Fatal(err)
		}
	}
}

func waitUntil(t testing.TB, what string, ok func() bool) {
	t.Helper()
	// Plugins compile in the background; under the race detector one
	// compile takes seconds, so the deadline is generous.
	deadline := time.Now().Add(3 * time.Minute)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func pluginSHA(n *testNode, name string) string {
	for _, p := range n.Plugins().Plugins() {
		if p.Name == name {
			return p.SHA256
		}
	}
	return ""
}

// listed returns the plugin name of a ListPlugins answer.
func listed(t *testing.T, res *distcachev1.ListPluginsResponse, name string) *distcachev1.Plugin {
	t.Helper()
	for _, p := range res.Plugins {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("%s not in ListPlugins: %v", name, res)
	return nil
}

// builtinNames returns the names of the plugins built into the node.
func builtinNames(t *testing.T) []string {
	t.Helper()
	files, err := fs.Glob(builtin.FS(), "*.wasm.gz")
	if err != nil || len(files) == 0 {
		t.Fatalf("built-in plugins: %v, %v", files, err)
	}
	var names []string
	for _, f := range files {
		names = append(names, strings.TrimSuffix(f, ".wasm.gz"))
	}
	return names
}

func TestWasmLoaderGroup(t *testing.T) {
	dir := t.TempDir()
	install(t, dir, "sqlkv", "loader/sqlkv")
	cfg := writeFile(t, t.TempDir(), "groups.yaml", `
groups:
  - name: users
    capacity: 1MiB
    loader:
      kind: wasm
      plugin: sqlkv
      settings: {table: kv, ttl: 90s}
`)
	n := startNode(t, Config{ConfigPath: cfg, PluginsDir: dir})
	c := n.clients(protocols()[0])
	res, err := c.cache.Get(context.Background(), connect.NewRequest(&distcachev1.GetRequest{Group: "users", Key: "hello"}))
	if err != nil || string(res.Msg.Value) != "world" || res.Msg.Source != distcachev1.Source_SOURCE_LOADER {
		t.Fatalf("Get through the wasm loader = %v, %v", res, err)
	}
	if ttl := res.Msg.Ttl.AsDuration(); ttl <= 0 || ttl > 90*time.Second {
		t.Fatalf("ttl = %v, want the loader's 90s", ttl)
	}
	_, err = c.cache.Get(context.Background(), connect.NewRequest(&distcachev1.GetRequest{Group: "users", Key: "nobody"}))
	wantCode(t, err, connect.CodeNotFound)
}

func TestAdminPluginsAndPolicySwitch(t *testing.T) {
	dir := t.TempDir()
	install(t, dir, "lru", "policy/lru")
	install(t, dir, "fifo", "policy/fifo")
	n := startNode(t, Config{PluginsDir: dir, AdminToken: "tok"})
	// Plugins compile in the background (issue 10 point 7).
	waitUntil(t, "the lru plugin", func() bool { return strings.HasPrefix(n.All()[0].Stats().Policy, "lru (wasm") })
	waitUntil(t, "every plugin", func() bool { return len(n.Plugins().Plugins()) == pluginCount(t, dir) })
	c := n.clients(protocols()[3])
	ctx := context.Background()
	list, err := c.admin.ListPlugins(ctx, connect.NewRequest(&distcachev1.ListPluginsRequest{}))
	if err != nil {
		t.Fatalf("ListPlugins: %v", err)
	}
	lru := listed(t, list.Msg, "lru")
	if lru.Kind != distcachev1.PluginKind_PLUGIN_KIND_POLICY || len(lru.Sha256) != 64 ||
		lru.AbiVersion != 1 || lru.LoadedAt == nil || fmt.Sprint(lru.Groups) != "[default]" ||
		lru.Origin != distcachev1.PluginOrigin_PLUGIN_ORIGIN_FILE || lru.File != filepath.Join(dir, "lru.wasm") {
		t.Fatalf("lru plugin = %v", lru)
	}
	if arc := listed(t, list.Msg, "arc"); arc.Origin != distcachev1.PluginOrigin_PLUGIN_ORIGIN_BUILTIN || arc.File != "" {
		t.Fatalf("arc plugin = %v, want the built-in one", arc)
	}
	req := func(policy, token string) *connect.Request[distcachev1.SetGroupPolicyRequest] {
		r := connect.NewRequest(&distcachev1.SetGroupPolicyRequest{Group: "default", Policy: policy})
		if token != "" {
			r.Header().Set("Authorization", "Bearer "+token)
		}
		return r
	}
	_, err = c.admin.SetGroupPolicy(ctx, req("fifo", ""))
	wantCode(t, err, connect.CodeUnauthenticated)
	_, err = c.admin.SetGroupPolicy(ctx, req("nope", "tok"))
	wantCode(t, err, connect.CodeFailedPrecondition)
	_, err = c.admin.SetGroupPolicy(ctx, req("Bad!", "tok"))
	wantCode(t, err, connect.CodeInvalidArgument)
	res, err := c.admin.SetGroupPolicy(ctx, req("fifo", "tok"))
	if err != nil || !strings.HasPrefix(res.Msg.Policy, "fifo (wasm") {
		t.Fatalf("SetGroupPolicy = %v, %v", res, err)
	}
	stats, _ := c.admin.GetStats(ctx, connect.NewRequest(&distcachev1.GetStatsRequest{}))
	if !strings.HasPrefix(stats.Msg.Groups[0].Policy, "fifo (wasm") {
		t.Fatalf("GetStats policy = %q", stats.Msg.Groups[0].Policy)
	}
}

// TestHotSwapUnderLoad swaps the default group's policy file again and
// again while clients read and write through the API; no request may fail.
func TestHotSwapUnderLoad(t *testing.T) {
	swaps := []string{"policy/fifo", "policy/lfu", "policy/arc", "policy/wtinylfu", "policy/lru", "policy/fifo"}
	precompile(t, append(swaps, "policy/lru")...)
	dir := t.TempDir()
	install(t, dir, "lru", "policy/lru")
	cfg := writeFile(t, t.TempDir(), "groups.yaml", "groups:\n  - name: hot\n    capacity: 64KiB\n    policy: lru\n")
	n := startNode(t, Config{ConfigPath: cfg, PluginsDir: dir})
	waitUntil(t, "the lru plugin", func() bool { return strings.HasPrefix(n.All()[0].Stats().Policy, "lru (wasm") })

	ctx, stop := context.WithCancel(context.Background())
	var requests, failures atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for w := range 4 {
		c := n.clients(protocols()[w%3])
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				key := fmt.Sprintf("k%d", (w*7919+i)%500)
				var err error
				if i%3 == 0 {
					_, err = c.cache.Set(context.Background(), connect.NewRequest(&distcachev1.SetRequest{Group: "hot", Key: key, Value: make([]byte, 200)}))
				} else {
					_, err = c.cache.Get(context.Background(), connect.NewRequest(&distcachev1.GetRequest{Group: "hot", Key: key}))
					if connect.CodeOf(err) == connect.CodeNotFound {
						err = nil // evicted or never set: a normal answer
					}
				}
				requests.Add(1)
				if err != nil {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
			}
		})
	}
	for i, pkg := range swaps {
		before := pluginSHA(n, "lru")
		start := time.Now()
		install(t, dir, "lru", pkg)
		waitUntil(t, fmt.Sprintf("swap %d (%s)", i, pkg), func() bool { return pluginSHA(n, "lru") != before })
		t.Logf("swap %d (%s) took %v", i, pkg, time.Since(start).Round(time.Millisecond))
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	wg.Wait()
	if f := failures.Load(); f != 0 {
		t.Fatalf("%d of %d requests failed during swaps; first: %v", f, requests.Load(), firstErr.Load())
	}
	if s := n.All()[0].Stats(); s.Bytes > s.Capacity || s.Evictions == 0 || s.Fallbacks != 0 {
		t.Fatalf("after swaps: %+v", s)
	}
	t.Logf("%d requests, 0 failed, across 6 swaps", requests.Load())
}

func TestBadPluginFileKeepsServing(t *testing.T) {
	dir := t.TempDir()
	install(t, dir, "lru", "policy/lru")
	logs := &syncBuffer{}
	n := startNode(t, Config{PluginsDir: dir, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	waitUntil(t, "lru to serve", func() bool { return pluginSHA(n, "lru") != "" })
	before := pluginSHA(n, "lru")
	if err := os.WriteFile(filepath.Join(dir, "lru.wasm"), []byte("this is not wasm"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Bad Name.wasm"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The watcher refuses both, and logs each refusal.
	waitUntil(t, "both bad files to be refused", func() bool {
		l := logs.String()
		return strings.Contains(l, "lru.wasm refused") && strings.Contains(l, "Bad Name.wasm")
	})
	if got := pluginSHA(n, "lru"); got != before || !strings.HasPrefix(n.All()[0].Stats().Policy, "lru (wasm") {
		t.Fatalf("a bad file replaced the serving policy (sha %s -> %s)", before, got)
	}
	c := n.clients(protocols()[2])
	if _, err := c.cache.Get(context.Background(), connect.NewRequest(&distcachev1.GetRequest{Group: "default", Key: "hello"})); err != nil {
		t.Fatal(err)
	}
}
