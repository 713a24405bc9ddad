package node

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"google.golang.org/protobuf/proto"

	distcachev1 "github.com/distcache/distcache/gen/distcache/v1"
)

// pluginCount is how many plugins a node over dir lists once loaded: its
// files and the built-in plugins of other names.
func pluginCount(t *testing.T, dir string) int {
	t.Helper()
	names := builtinNames(t)
	files, err := filepath.Glob(filepath.Join(dir, "*.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if name := strings.TrimSuffix(filepath.Base(f), ".wasm"); !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	return len(names)
}

// TestFreshNodeServesBuiltinLRU: a node with an empty plugins directory
// serves group default with the built-in WebAssembly lru and lists the
// built-in plugins as such; a file lru.wasm dropped in overrides it (ListPlugins
// shows the file and its SHA-256), and removing the file brings the
// built-in one back.
func TestFreshNodeServesBuiltinLRU(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, Config{PluginsDir: dir})
	c := n.clients(protocols()[3])
	ctx := context.Background()
	list := func() *distcachev1.ListPluginsResponse {
		t.Helper()
		res, err := c.admin.ListPlugins(ctx, connect.NewRequest(&distcachev1.ListPluginsRequest{}))
		if err != nil {
			t.Fatalf("ListPlugins: %v", err)
		}
		return res.Msg
	}
	policy := func() string {
		t.Helper()
		res, err := c.admin.GetStats(ctx, connect.NewRequest(&distcachev1.GetStatsRequest{Group: proto.String("default")}))
		if err != nil || len(res.Msg.Groups) != 1 {
			t.Fatalf("GetStats = %v, %v", res, err)
		}
		return res.Msg.Groups[0].Policy
	}
	// serves reports whether default runs lru from origin with the SHA-256 sum.
	serves := func(origin distcachev1.PluginOrigin, sum string) func() bool {
		return func() bool {
			for _, p := range list().Plugins {
				if p.Name == "lru" {
					return p.Origin == origin && p.Sha256 == sum && strings.HasPrefix(policy(), "lru (wasm "+sum[:8])
				}
			}
			return false
		}
	}

	// The groups' plugins load first; the other built-in ones follow.
	waitUntil(t, "the built-in lru", func() bool { return strings.HasPrefix(policy(), "lru (wasm") })
	for _, p := range list().Plugins {
		if p.Origin != distcachev1.PluginOrigin_PLUGIN_ORIGIN_BUILTIN || p.File != "" || len(p.Sha256) != 64 {
			t.Errorf("plugin %s = %v, want a built-in one", p.Name, p)
		}
	}
	lru := listed(t, list(), "lru")
	if got := policy(); !strings.HasPrefix(got, "lru (wasm "+lru.Sha256[:8]) || strings.Contains(got, "native") {
		t.Fatalf("default's policy = %q, want the built-in lru %s", got, lru.Sha256[:12])
	}
	if strings.Join(lru.Groups, ",") != "default" {
		t.Fatalf("lru groups = %v, want [default]", lru.Groups)
	}
	builtinSum := lru.Sha256

	precompile(t, "policy/lru") // so the swap does not wait on the compiler
	install(t, dir, "lru", "policy/lru")
	file := wasm.Bytes(t, "policy/lru")
	sum := sha256.Sum256(file)
	fileSum := hex.EncodeToString(sum[:])
	if fileSum == builtinSum {
		t.Fatal("the test's lru.wasm has the built-in module's bytes: nothing would change")
	}
	waitUntil(t, "the file to override the built-in lru", serves(distcachev1.PluginOrigin_PLUGIN_ORIGIN_FILE, fileSum))
	if got := listed(t, list(), "lru").File; got != filepath.Join(dir, "lru.wasm") {
		t.Fatalf("lru file = %q, want %q", got, filepath.Join(dir, "lru.wasm"))
	}

	if err := os.Remove(filepath.Join(dir, "lru.wasm")); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the built-in lru back", serves(distcachev1.PluginOrigin_PLUGIN_ORIGIN_BUILTIN, builtinSum))
}

// TestNoBuiltinPlugins: with NoBuiltinPlugins and an empty plugins
// directory the node loads no plugin and the native LRU serves.
func TestNoBuiltinPlugins(t *testing.T) {
	n := startNode(t, Config{NoBuiltinPlugins: true})
	waitUntil(t, "the plugins directory loaded", func() bool { return n.pluginsLoaded.Load() })
	if got := n.Plugins().Plugins(); len(got) != 0 {
		t.Fatalf("plugins = %+v, want none", got)
	}
	if got := n.All()[0].Stats().Policy; got != "lru (native)" {
		t.Fatalf("policy = %q, want lru (native)", got)
	}
}
