package node

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"connectrpc.com/connect"

	distcachev1 "github.com/distcache/distcache/gen/distcache/v1"
	"github.com/distcache/distcache/server/cache"
)

// setCostOn stores a key whose entry costs exactly cost bytes in group g.
func setCostOn(t *testing.T, g *cache.Group, key string, cost int) {
	t.Helper()
	if err := g.Set(context.Background(), key, make([]byte, cost-len(key)-cache.EntryOverhead), 0); err != nil {
		t.Fatal(err)
	}
}

// TestPluginStateAfterPanicAndFix: a policy that panics leaves its group
// on the native LRU; ListPlugins says the plugin failed, the group is on
// the fallback, and what failed when. A fixed version of the file serves
// again, and the failure stays counted.
func TestPluginStateAfterPanicAndFix(t *testing.T) {
	dir := t.TempDir()
	install(t, dir, "bad", "server/plugin/testdata/badpolicy")
	precompile(t, "policy/fifo")
	cfg := writeFile(t, t.TempDir(), "groups.yaml", "groups:\n  - name: g\n    capacity: 8KiB\n    policy: bad\n")
	var logs syncBuffer
	n := startNode(t, Config{ConfigPath: cfg, PluginsDir: dir, NoBuiltinPlugins: true,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	g, _ := n.Group("g")
	waitUntil(t, "the bad plugin", func() bool { return strings.HasPrefix(g.Stats().Policy, "bad (wasm") })
	admin := n.clients(protocols()[3]).admin
	list := func() *distcachev1.Plugin {
		t.Helper()
		res, err := admin.ListPlugins(context.Background(), connect.NewRequest(&distcachev1.ListPluginsRequest{}))
		if err != nil {
			t.Fatalf("ListPlugins: %v", err)
		}
		return listed(t, res.Msg, "bad")
	}
	if p := list(); p.State != distcachev1.PluginState_PLUGIN_STATE_SERVING || p.Failures != 0 || p.LastFailure != nil ||
		len(p.GroupStates) != 1 || p.GroupStates[0].State != distcachev1.PluginGroupState_PLUGIN_GROUP_STATE_SERVING {
		t.Fatalf("bad before the panic = %v", p)
	}

	setCostOn(t, g, "trigger", 666) // the next update panics
	for i := range 40 {
		setCostOn(t, g, fmt.Sprint("k", i), 300)
	}
	waitUntil(t, "the native LRU", func() bool { return g.Stats().Policy == "lru (native)" })
	p := list()
	if p.State != distcachev1.PluginState_PLUGIN_STATE_FAILED || p.Failures != 1 || len(p.Groups) != 0 {
		t.Errorf("bad after the panic = %v, want failed once", p)
	}
	if len(p.GroupStates) != 1 || p.GroupStates[0].Group != "g" ||
		p.GroupStates[0].State != distcachev1.PluginGroupState_PLUGIN_GROUP_STATE_NATIVE_FALLBACK {
		t.Errorf("group states = %v, want g on the native fallback", p.GroupStates)
	}
	f := p.LastFailure
	if f == nil || f.Group != "g" || f.Reason != "trap" || f.FailedAt == nil || f.FailedAt.AsTime().IsZero() ||
		!strings.Contains(f.Error, "panic: badpolicy: trap on purpose") {
		t.Errorf("last failure = %v, want g's trap with the panic", f)
	}
	if len(p.FailedGroups) != 1 || !strings.Contains(p.FailedGroups[0].Error, "panic: badpolicy: trap on purpose") {
		t.Errorf("failed groups = %v", p.FailedGroups)
	}
	if c := strings.Count(logs.String(), "level=ERROR"); c != 1 {
		t.Errorf("%d records at ERROR, want 1:\n%s", c, logs.String())
	}

	// A fixed version: the watcher swaps it in, and the group runs on it.
	install(t, dir, "bad", "policy/fifo")
	waitUntil(t, "the fixed version", func() bool { return strings.HasPrefix(g.Stats().Policy, "bad (wasm") })
	p = list()
	if p.State != distcachev1.PluginState_PLUGIN_STATE_SERVING || len(p.FailedGroups) != 0 ||
		len(p.GroupStates) != 1 || p.GroupStates[0].State != distcachev1.PluginGroupState_PLUGIN_GROUP_STATE_SERVING {
		t.Errorf("bad after the fix = %v, want serving g", p)
	}
	if p.Failures != 1 || p.LastFailure == nil || !strings.Contains(p.LastFailure.Error, "trap on purpose") {
		t.Errorf("bad after the fix: failures %d, last %v; want the panic still counted", p.Failures, p.LastFailure)
	}
}

// TestSetGroupPolicyAllMembers switches a group's policy on every member
// of a 3-node cluster through one of them: every node's GetStats and
// ListPlugins show the new policy, each node logs the switch and who
// asked, and a member that cannot be reached is reported, not fatal.
func TestSetGroupPolicyAllMembers(t *testing.T) {
	// Two plugins, compiled once for the three nodes, rather than every
	// built-in one three times.
	precompile(t, "policy/lru", "policy/fifo")
	dir := t.TempDir()
	install(t, dir, "lru", "policy/lru")
	install(t, dir, "fifo", "policy/fifo")
	var logs syncBuffer
	nodes := startCluster(t, 3, Config{AdminToken: "tok", PluginsDir: dir, NoBuiltinPlugins: true,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	ctx := context.Background()
	admin := nodes[0].clients(protocols()[0]).admin
	set := func(policy string) *distcachev1.SetGroupPolicyResponse {
		t.Helper()
		req := connect.NewRequest(&distcachev1.SetGroupPolicyRequest{Group: "default", Policy: policy, AllMembers: true})
		req.Header().Set("Authorization", "Bearer tok")
		res, err := admin.SetGroupPolicy(ctx, req)
		if err != nil {
			t.Fatalf("SetGroupPolicy(%s, all members): %v", policy, err)
		}
		return res.Msg
	}

	res := set("fifo")
	if !strings.HasPrefix(res.Policy, "fifo (wasm") || len(res.Members) != 3 {
		t.Fatalf("answer = %v, want fifo on 3 members", res)
	}
	for i, m := range res.Members {
		if m.Member != nodes[i].Picker().Self() || !strings.HasPrefix(m.Policy, "fifo (wasm") || m.Error != "" {
			t.Errorf("member %d = %v", i, m)
		}
	}
	for _, n := range nodes {
		c := n.clients(protocols()[3]).admin
		waitUntil(t, n.Picker().Self()+"'s GetStats to show fifo", func() bool {
			st, err := c.GetStats(ctx, connect.NewRequest(&distcachev1.GetStatsRequest{}))
			return err == nil && len(st.Msg.Groups) == 1 && strings.HasPrefix(st.Msg.Groups[0].Policy, "fifo (wasm")
		})
		list, err := c.ListPlugins(ctx, connect.NewRequest(&distcachev1.ListPluginsRequest{}))
		if err != nil {
			t.Fatal(err)
		}
		if p := listed(t, list.Msg, "fifo"); len(p.Groups) != 1 || p.Groups[0] != "default" {
			t.Errorf("%s's fifo serves %v, want default", n.Picker().Self(), p.Groups)
		}
	}
	out := logs.String()
	if c := strings.Count(out, `msg="group policy set" group=default old="lru (wasm`); c != 3 {
		t.Errorf("%d switches from lru logged, want 3:\n%s", c, grepLines([]byte(out), "group policy set"))
	}
	if c := strings.Count(out, "by=\"admin token\""); c != 3 {
		t.Errorf("%d switches logged as the admin token's, want 3", c)
	}
	if c := strings.Count(out, "via=na"); c != 2 {
		t.Errorf("%d switches logged as made via na, want 2", c)
	}

	// A member that is gone is reported; the others switch.
	nodes[2].Stop()
	res = set("lru")
	if len(res.Members) != 3 || res.Members[2].Error == "" || res.Members[2].Policy != "" {
		t.Fatalf("answer with nc stopped = %v, want nc's error", res)
	}
	for _, m := range res.Members[:2] {
		if !strings.HasPrefix(m.Policy, "lru (wasm") || m.Error != "" {
			t.Errorf("member %v, want lru", m)
		}
	}

	// A token the members refuse switches nothing.
	req := connect.NewRequest(&distcachev1.SetGroupPolicyRequest{Group: "default", Policy: "fifo", AllMembers: true})
	req.Header().Set("Authorization", "Bearer nope")
	_, err := admin.SetGroupPolicy(ctx, req)
	wantCode(t, err, connect.CodeUnauthenticated)
}
