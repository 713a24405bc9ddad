package node

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"connectrpc.com/connect"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	distcachev1 "github.com/distcache/distcache/gen/distcache/v1"
)

// TestFailedPolicyIsReported fills a group past what a 4 MiB policy
// instance holds: ListPlugins shows the group failed, and the health
// service reports "distcache.policy/g" NOT_SERVING while the node itself
// stays SERVING (docs/decisions/0016-policy-scale.md).
func TestFailedPolicyIsReported(t *testing.T) {
	dir := t.TempDir()
	install(t, dir, "lru", "policy/lru")
	cfg := writeFile(t, t.TempDir(), "groups.yaml", "groups:\n  - name: g\n    capacity: 64MiB\n    policy: lru\n")
	n := startNode(t, Config{ConfigPath: cfg, PluginsDir: dir, PolicyMemoryMiB: 4})
	g, _ := n.Group("g")
	waitUntil(t, "the lru plugin", func() bool { return strings.HasPrefix(g.Stats().Policy, "lru (wasm") })
	c := n.clients(protocols()[3])
	ctx := context.Background()
	check := func(service string) healthpb.HealthCheckResponse_ServingStatus {
		t.Helper()
		hc := connect.NewClient[healthpb.HealthCheckRequest, healthpb.HealthCheckResponse](
			protocols()[3].http, n.url+"/grpc.health.v1.Health/Check", protocols()[3].opts...)
		res, err := hc.CallUnary(ctx, connect.NewRequest(&healthpb.HealthCheckRequest{Service: service}))
		if err != nil {
			t.Fatalf("Check(%q): %v", service, err)
		}
		return res.Msg.Status
	}
	if s := check("distcache.policy/g"); s != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("policy health before = %v", s)
	}
	for i := 0; i < 100_000 && g.Stats().Policy != "lru (native)"; i++ {
		if err := g.Set(ctx, strconv.Itoa(i), nil, 0); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, "the policy health to fail", func() bool {
		return check("distcache.policy/g") == healthpb.HealthCheckResponse_NOT_SERVING
	})
	if s := check(""); s != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("the node's own health = %v, want SERVING", s)
	}
	list, err := c.admin.ListPlugins(ctx, connect.NewRequest(&distcachev1.ListPluginsRequest{}))
	if err != nil {
		t.Fatalf("ListPlugins: %v", err)
	}
	lru := listed(t, list.Msg, "lru")
	if len(lru.Groups) != 0 || len(lru.FailedGroups) != 1 {
		t.Fatalf("lru plugin = %v, want g failed", lru)
	}
	f := lru.FailedGroups[0]
	if f.Group != "g" || f.Reason != "trap" || f.Error == "" || f.FailedAt == nil {
		t.Errorf("failed group = %v", f)
	}
}
