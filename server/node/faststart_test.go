package node

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"net/http"

	"connectrpc.com/connect"

	distcachev1 "github.com/distcache/distcache/gen/distcache/v1"
	"github.com/distcache/distcache/gen/distcache/v1/distcachev1connect"
	"github.com/distcache/distcache/internal/testtool"
	"github.com/distcache/distcache/internal/wasmbuild"
	"github.com/distcache/distcache/server/plugin"
)

// sixPolicies writes the five shipped Go policies and the C FIFO into a
// new plugins directory and returns it; it skips without clang (as
// installFIFOInC does), since a benchmark cannot use that helper.
func sixPolicies(tb testing.TB) string {
	tb.Helper()
	dir := tb.TempDir()
	for _, p := range []string{"arc", "fifo", "lfu", "lru", "wtinylfu"} {
		if err := os.WriteFile(filepath.Join(dir, p+".wasm"), wasm.Bytes(tb, "policy/"+p), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	cmd := exec.Command("clang", "--target=wasm32", "-mcpu=mvp", "-O2", "-nostdlib", "-fno-builtin",
		"-Wl,--no-entry", "-Wl,--stack-first", "-o", filepath.Join(dir, "fifo-c.wasm"), "policy/fifo-c/fifo.c")
	cmd.Dir = wasmbuild.Root()
	if out, err := cmd.CombinedOutput(); err != nil {
		testtool.Missing(tb, fmt.Sprintf("clang cannot build policy/fifo-c for wasm32: %v\n%s", err, out), "apt-get install -y clang lld")
	}
	return dir
}

// startNodeCtx is startNode with New given ctx and a fresh, empty
// compilation cache; it returns the node and when New was called.
func startNodeCtx(t *testing.T, ctx context.Context, cfg Config) (*testNode, time.Time) {
	t.Helper()
	cfg.PluginCacheDir = filepath.Join(t.TempDir(), "compiled")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.DBPath = filepath.Join(t.TempDir(), "distcache.db")
	start := time.Now()
	n, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return serveNode(t, n, ln), start
}

// holdCompiles returns ctx with a plugin.LoadTrace that holds every
// compile until release is closed or the compile's context ends.
func holdCompiles(release <-chan struct{}) context.Context {
	return plugin.WithLoadTrace(context.Background(), &plugin.LoadTrace{
		Compiling: func(ctx context.Context, _ string) {
			select {
			case <-release:
			case <-ctx.Done():
			}
		},
	})
}

const fastGroups = "groups:\n  - name: fast\n    capacity: 1MiB\n    policy: lru\n"

// TestServesWhilePluginsCompile: with six policy modules to compile and
// every compile held, the node answers a Set and a Get on the native LRU;
// once the compiles are released the group gets its wasm policy.
func TestServesWhilePluginsCompile(t *testing.T) {
	dir := sixPolicies(t)
	cfg := writeFile(t, t.TempDir(), "groups.yaml", fastGroups)
	release := make(chan struct{})
	n, start := startNodeCtx(t, holdCompiles(release), Config{ConfigPath: cfg, PluginsDir: dir})
	c := n.clients(protocols()[2])
	ctx := context.Background()
	if _, err := c.cache.Set(ctx, connect.NewRequest(&distcachev1.SetRequest{Group: "fast", Key: "k", Value: []byte("v")})); err != nil {
		t.Fatal(err)
	}
	res, err := c.cache.Get(ctx, connect.NewRequest(&distcachev1.GetRequest{Group: "fast", Key: "k"}))
	if err != nil || string(res.Msg.Value) != "v" {
		t.Fatalf("Get while compiles are held = %v, %v", res, err)
	}
	t.Logf("first Get answered %v after New, every compile held", time.Since(start).Round(time.Millisecond))
	if got := n.All()[0].Stats().Policy; !strings.HasPrefix(got, "lru (native") {
		t.Fatalf("policy while compiles are held = %q, want the native LRU", got)
	}
	if got := len(n.Plugins().Plugins()); got != 0 {
		t.Fatalf("%d plugins listed while every compile is held", got)
	}
	close(release)
	// Six cold compiles take half a minute under the race detector: more
	// than waitUntil allows.
	waitUntil(t, "the wasm lru policy", func() bool { return strings.HasPrefix(n.All()[0].Stats().Policy, "lru (wasm") })
	waitUntil(t, "every plugin", func() bool { return len(n.Plugins().Plugins()) == pluginCount(t, dir) })
	t.Logf("wasm lru bound %v after New", time.Since(start).Round(time.Millisecond))
	res, err = c.cache.Get(ctx, connect.NewRequest(&distcachev1.GetRequest{Group: "fast", Key: "k"}))
	if err != nil || string(res.Msg.Value) != "v" {
		t.Fatalf("Get after the swap = %v, %v", res, err)
	}
}

// TestCloseWhilePluginsCompile: closing a node whose compiles are held
// returns promptly and leaves no goroutine behind (TestMain's goleak).
func TestCloseWhilePluginsCompile(t *testing.T) {
	dir := sixPolicies(t)
	cfg := writeFile(t, t.TempDir(), "groups.yaml", fastGroups)
	never := make(chan struct{})
	n, _ := startNodeCtx(t, holdCompiles(never), Config{ConfigPath: cfg, PluginsDir: dir})
	stopped := make(chan struct{})
	go func() { n.Stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("Close hung on held compiles")
	}
}

// BenchmarkStartToFirstGet measures the time from New to the first Get
// answered over HTTP, with the six policy plugins of sixPolicies and an
// empty compilation cache each time.
func BenchmarkStartToFirstGet(b *testing.B) {
	dir := sixPolicies(b)
	cfg := writeFile(b, b.TempDir(), "groups.yaml", fastGroups)
	var total time.Duration
	for b.Loop() {
		b.StopTimer()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		ncfg := Config{ConfigPath: cfg, PluginsDir: dir,
			DBPath: filepath.Join(b.TempDir(), "db"), PluginCacheDir: filepath.Join(b.TempDir(), "compiled")}
		b.StartTimer()
		start := time.Now()
		n, err := New(context.Background(), ncfg)
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		served := make(chan error, 1)
		go func() { served <- n.Serve(ctx, ln) }()
		c := distcachev1connect.NewCacheServiceClient(http.DefaultClient, "http://"+ln.Addr().String())
		_, err = c.Get(context.Background(), connect.NewRequest(&distcachev1.GetRequest{Group: "fast", Key: "k"}))
		if connect.CodeOf(err) != connect.CodeNotFound {
			b.Fatalf("first Get = %v, want not found", err)
		}
		total += time.Since(start)
		b.StopTimer()
		cancel()
		if err := <-served; err != nil {
			b.Fatal(err)
		}
		if err := n.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/first-get")
}
