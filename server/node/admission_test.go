package node

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"connectrpc.com/connect"

	distcachev1 "github.com/distcache/distcache/gen/distcache/v1"
	"github.com/distcache/distcache/internal/testtool"
	"github.com/distcache/distcache/internal/wasmbuild"
)

// shippedPolicies returns the Go policy packages under policy/ ("lru",
// "wtinylfu", ...): the directories with a main.go.
func shippedPolicies(t *testing.T) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(wasmbuild.Root(), "policy"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if _, err := os.Stat(filepath.Join(wasmbuild.Root(), "policy", e.Name(), "main.go")); e.IsDir() && err == nil {
			out = append(out, e.Name())
		}
	}
	if len(out) < 5 {
		t.Fatalf("found policies %v, want at least lru, lfu, fifo, arc and wtinylfu", out)
	}
	return out
}

// installFIFOInC builds policy/fifo-c with clang into dir as fifo-c.wasm,
// or skips (fails where DISTCACHE_REQUIRE_TOOLS=1) without clang and lld.
func installFIFOInC(t *testing.T, dir string) {
	t.Helper()
	missing := func(why string) { testtool.Missing(t, why, "apt-get install -y clang lld") }
	if _, err := exec.LookPath("clang"); err != nil {
		missing("no clang to build policy/fifo-c")
	}
	cmd := exec.Command("clang", "--target=wasm32", "-mcpu=mvp", "-O2", "-nostdlib", "-fno-builtin",
		"-Wl,--no-entry", "-Wl,--stack-first", "-o", filepath.Join(dir, "fifo-c.wasm"), "policy/fifo-c/fifo.c")
	cmd.Dir = wasmbuild.Root()
	if out, err := cmd.CombinedOutput(); err != nil {
		missing(fmt.Sprintf("clang cannot build for wasm32 here (is lld installed?): %v\n%s", err, out))
	}
}

// TestSetIsStoredUnderEveryPolicy: an acknowledged Set is readable at once
// with the value just set, whatever the policy, on a group filled well
// past its capacity; a policy may evict others for it, never refuse it.
// Reads of a few hot keys between the Sets give the frequency-based
// policies (lfu, wtinylfu) reasons to refuse the cold newcomers.
func TestSetIsStoredUnderEveryPolicy(t *testing.T) {
	type policyCase struct {
		label     string // the subtest
		name      string // the group's policy
		install   func(t *testing.T, dir string)
		noBuiltin bool   // Config.NoBuiltinPlugins
		want      string // prefix of the policy the group reports
	}
	none := func(*testing.T, string) {}
	cases := []policyCase{
		{label: "native-lru", name: "lru", install: none, noBuiltin: true, want: "lru (native)"},
		{label: "builtin-lru", name: "lru", install: none, want: "lru (wasm"},
	}
	var pkgs []string
	for _, p := range shippedPolicies(t) {
		pkgs = append(pkgs, "policy/"+p)
		cases = append(cases, policyCase{
			label:   p,
			name:    p,
			install: func(t *testing.T, dir string) { install(t, dir, p, "policy/"+p) },
			want:    p + " (wasm",
		})
	}
	cases = append(cases, policyCase{label: "fifo-c", name: "fifo-c", install: installFIFOInC, want: "fifo-c (wasm"})
	precompile(t, pkgs...)
	for _, pc := range cases {
		t.Run(pc.label, func(t *testing.T) {
			dir := t.TempDir()
			pc.install(t, dir)
			cfg := writeFile(t, t.TempDir(), "groups.yaml",
				"groups:\n  - name: small\n    capacity: 16KiB\n    policy: "+pc.name+"\n")
			n := startNode(t, Config{ConfigPath: cfg, PluginsDir: dir, NoBuiltinPlugins: pc.noBuiltin})
			// Plugins compile in the background (issue 10 point 7).
			waitUntil(t, pc.want, func() bool { return strings.HasPrefix(n.All()[0].Stats().Policy, pc.want) })
			fillPastCapacity(t, n.clients(protocols()[2]))
		})
	}
}

// fillPastCapacity writes about 20 times the group's capacity and checks
// each Set right after it is acknowledged.
func fillPastCapacity(t *testing.T, c clients) {
	ctx := context.Background()
	group := "small"
	set := func(key string, value []byte) {
		t.Helper()
		if _, err := c.cache.Set(ctx, connect.NewRequest(&distcachev1.SetRequest{Group: group, Key: key, Value: value})); err != nil {
			t.Fatalf("Set(%q): %v", key, err)
		}
	}
	get := func(key string) ([]byte, error) {
		res, err := c.cache.Get(ctx, connect.NewRequest(&distcachev1.GetRequest{Group: group, Key: key}))
		if err != nil {
			return nil, err
		}
		return res.Msg.Value, nil
	}
	const hot = 6
	for h := range hot {
		set(fmt.Sprintf("hot-%d", h), []byte("hot"))
	}
	var capacity, evictions int64
	for i := range 400 {
		// A few reads of the hot keys (gone ones answer NotFound).
		for r := range 3 {
			if _, err := get(fmt.Sprintf("hot-%d", (i+r)%hot)); err != nil && connect.CodeOf(err) != connect.CodeNotFound {
				t.Fatalf("Get of a hot key: %v", err)
			}
		}
		key := fmt.Sprintf("cold-%d", i)
		if i%7 == 0 {
			key = fmt.Sprintf("hot-%d", i%hot) // an update, growing or shrinking
		}
		value := bytes.Repeat([]byte{byte('a' + i%26)}, 100+(i*37)%700)
		copy(value, fmt.Sprintf("set %d;", i))
		set(key, value)
		got, err := get(key)
		if err != nil || !bytes.Equal(got, value) {
			t.Fatalf("Set %d of %q (%d bytes) was acknowledged, then Get = %.20q (%d bytes), %v",
				i, key, len(value), got, len(got), err)
		}
		one := group
		stats, err := c.admin.GetStats(ctx, connect.NewRequest(&distcachev1.GetStatsRequest{Group: &one}))
		if err != nil {
			t.Fatal(err)
		}
		s := stats.Msg.Groups[0]
		if s.Bytes > s.Capacity {
			t.Fatalf("after Set %d the group holds %d bytes, capacity %d", i, s.Bytes, s.Capacity)
		}
		capacity, evictions = s.Capacity, s.Evictions
	}
	if capacity != 16<<10 || evictions < 300 {
		t.Fatalf("capacity %d, %d evictions: the group was not filled past capacity", capacity, evictions)
	}
}
