package node

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/types/known/durationpb"

	distcachev1 "github.com/distcache/distcache/gen/distcache/v1"
)

func TestEveryRPCInEveryProtocol(t *testing.T) {
	n := startNode(t, Config{AdminToken: "secret"})
	ctx := context.Background()
	for _, p := range protocols() {
		t.Run(p.name, func(t *testing.T) {
			c := n.clients(p)
			res, err := c.cache.Get(ctx, connect.NewRequest(&distcachev1.GetRequest{Group: "default", Key: "hello"}))
			if err != nil || string(res.Msg.Value) != "world" {
				t.Fatalf("Get hello = %v, %v; want world", res, err)
			}
			if res.Msg.Ttl != nil {
				t.Errorf("Get hello ttl = %v, want absent (the default group never expires)", res.Msg.Ttl)
			}

			key := "key-" + p.name
			set := &distcachev1.SetRequest{Group: "default", Key: key, Value: []byte("v"), Ttl: durationpb.New(time.Hour)}
			if _, err := c.cache.Set(ctx, connect.NewRequest(set)); err != nil {
				t.Fatalf("Set: %v", err)
			}
			res, err = c.cache.Get(ctx, connect.NewRequest(&distcachev1.GetRequest{Group: "default", Key: key}))
			if err != nil || string(res.Msg.Value) != "v" || res.Msg.Source != distcachev1.Source_SOURCE_LOCAL {
				t.Fatalf("Get after Set = %v, %v", res, err)
			}
			if ttl := res.Msg.Ttl.AsDuration(); ttl <= 0 || ttl > time.Hour {
				t.Fatalf("Get after Set ttl = %v, want (0, 1h]", ttl)
			}
			if _, err := c.cache.Delete(ctx, connect.NewRequest(&distcachev1.DeleteRequest{Group: "default", Key: key})); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			_, err = c.cache.Get(ctx, connect.NewRequest(&distcachev1.GetRequest{Group: "default", Key: key}))
			wantCode(t, err, connect.CodeNotFound)

			stats, err := c.admin.GetStats(ctx, connect.NewRequest(&distcachev1.GetStatsRequest{}))
			if err != nil || len(stats.Msg.Groups) != 1 || stats.Msg.Groups[0].Group != "default" || stats.Msg.Groups[0].Gets == 0 {
				t.Fatalf("GetStats = %v, %v", stats, err)
			}
			one := "default"
			if _, err := c.admin.GetStats(ctx, connect.NewRequest(&distcachev1.GetStatsRequest{Group: &one})); err != nil {
				t.Fatalf("GetStats(default): %v", err)
			}
			purge := connect.NewRequest(&distcachev1.PurgeRequest{Group: "default"})
			purge.Header().Set("Authorization", "Bearer secret")
			pres, err := c.admin.Purge(ctx, purge)
			if err != nil || pres.Msg.Removed < 1 {
				t.Fatalf("Purge = %v, %v; want at least hello removed", pres, err)
			}
		})
	}
}

func TestHealth(t *testing.T) {
	n := startNode(t, Config{})
	for _, p := range protocols()[:4] {
		t.Run(p.name, func(t *testing.T) {
			check := connect.NewClient[healthpb.HealthCheckRequest, healthpb.HealthCheckResponse](
				p.http, n.url+"/grpc.health.v1.Health/Check", p.opts...)
			for service, want := range map[string]connect.Code{"": 0, "distcache.v1.CacheService": 0, "nope.Service": connect.CodeNotFound} {
				res, err := check.CallUnary(context.Background(), connect.NewRequest(&healthpb.HealthCheckRequest{Service: service}))
				if want != 0 {
					wantCode(t, err, want)
					continue
				}
				if err != nil || res.Msg.Status != healthpb.HealthCheckResponse_SERVING {
					t.Fatalf("Check(%q) = %v, %v", service, res, err)
				}
			}
		})
	}
}

func TestAdminToken(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name, token, header string
		want                connect.Code
	}{
		{"node without token", "", "Bearer x", connect.CodePermissionDenied},
		{"no header", "secret", "", connect.CodeUnauthenticated},
		{"wrong token", "secret", "Bearer wrong", connect.CodeUnauthenticated},
		{"not bearer", "secret", "secret", connect.CodeUnauthenticated},
		{"right token", "secret", "Bearer secret", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := startNode(t, Config{AdminToken: tc.token})
			c := n.clients(protocols()[2])
			if _, err := c.cache.Get(ctx, connect.NewRequest(&distcachev1.GetRequest{Group: "default", Key: "hello"})); err != nil {
				t.Fatal(err)
			}
			req := connect.NewRequest(&distcachev1.PurgeRequest{Group: "default"})
			if tc.header != "" {
				req.Header().Set("Authorization", tc.header)
			}
			_, err := c.admin.Purge(ctx, req)
			items := n.All()[0].Stats().Items
			if tc.want == 0 {
				if err != nil || items != 0 {
					t.Fatalf("Purge = %v with %d items left", err, items)
				}
				return
			}
			wantCode(t, err, tc.want)
			if items != 1 {
				t.Fatalf("a refused Purge changed the group: %d items, want 1", items)
			}
		})
	}
}

// TestBadRequests sends invalid requests in every protocol and checks each
// gets the right code naming the field and rule, and changes nothing.
func TestBadRequests(t *testing.T) {
	n := startNode(t, Config{MaxValueBytes: 1024})
	ctx := context.Background()
	long := strings.Repeat("k", 251)
	bad := "Bad Group!"
	cases := []struct {
		name   string
		call   func(c clients) error
		code   connect.Code
		phrase []string
	}{
		{"get bad group", get("Bad!", "k"), connect.CodeInvalidArgument, []string{"group", "match"}},
		{"get empty key", get("default", ""), connect.CodeInvalidArgument, []string{"key", "at least 1"}},
		{"get long key", get("default", long), connect.CodeInvalidArgument, []string{"key", "at most 250"}},
		{"get unknown group", get("nope", "k"), connect.CodeNotFound, []string{"unknown group", "nope"}},
		{"set empty key", set("default", "", 1, nil), connect.CodeInvalidArgument, []string{"key"}},
		{"set value over node max", set("default", "k", 1025, nil), connect.CodeInvalidArgument, []string{"value", "1024"}},
		{"set negative ttl", set("default", "k", 1, durationpb.New(-time.Second)), connect.CodeInvalidArgument, []string{"ttl", "greater than or equal to 0s"}},
		{"set ttl over a year", set("default", "k", 1, durationpb.New(366*24*time.Hour)), connect.CodeInvalidArgument, []string{"ttl", "31536000s"}},
		{"set unknown group", set("nope", "k", 1, nil), connect.CodeNotFound, []string{"nope"}},
		{"delete long key", func(c clients) error {
			_, err := c.cache.Delete(ctx, connect.NewRequest(&distcachev1.DeleteRequest{Group: "default", Key: long}))
			return err
		}, connect.CodeInvalidArgument, []string{"key"}},
		{"stats bad group", func(c clients) error {
			_, err := c.admin.GetStats(ctx, connect.NewRequest(&distcachev1.GetStatsRequest{Group: &bad}))
			return err
		}, connect.CodeInvalidArgument, []string{"group"}},
		{"stats unknown group", func(c clients) error {
			g := "nope"
			_, err := c.admin.GetStats(ctx, connect.NewRequest(&distcachev1.GetStatsRequest{Group: &g}))
			return err
		}, connect.CodeNotFound, []string{"nope"}},
	}
	before := n.All()[0].Stats()
	for _, p := range protocols()[:4] {
		for _, tc := range cases {
			t.Run(p.name+"/"+tc.name, func(t *testing.T) {
				ce := wantCode(t, tc.call(n.clients(p)), tc.code)
				for _, w := range tc.phrase {
					if !strings.Contains(ce.Message(), w) {
						t.Errorf("message %q does not name %q", ce.Message(), w)
					}
				}
				if tc.code == connect.CodeInvalidArgument && len(ce.Details()) == 0 {
					t.Errorf("InvalidArgument without a violations detail")
				}
			})
		}
	}
	after := n.All()[0].Stats()
	if after.Items != before.Items || after.Gets != before.Gets || after.Bytes != before.Bytes {
		t.Fatalf("bad requests changed state: before %+v after %+v", before, after)
	}
}

func get(group, key string) func(c clients) error {
	return func(c clients) error {
		_, err := c.cache.Get(context.Background(), connect.NewRequest(&distcachev1.GetRequest{Group: group, Key: key}))
		return err
	}
}

func set(group, key string, size int, ttl *durationpb.Duration) func(c clients) error {
	return func(c clients) error {
		req := &distcachev1.SetRequest{Group: group, Key: key, Value: make([]byte, size), Ttl: ttl}
		_, err := c.cache.Set(context.Background(), connect.NewRequest(req))
		return err
	}
}

func TestSetTTLSemantics(t *testing.T) {
	dir := t.TempDir()
	cfgPath := writeFile(t, dir, "groups.yaml", "groups:\n  - name: g\n    capacity: 1MiB\n    ttl: 1h\n")
	n := startNode(t, Config{ConfigPath: cfgPath})
	c := n.clients(protocols()[2])
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		ttl     *durationpb.Duration
		wantTTL bool
		max     time.Duration
	}{
		{"absent uses group ttl", nil, true, time.Hour},
		{"zero never expires", durationpb.New(0), false, 0},
		{"explicit", durationpb.New(time.Minute), true, time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := fmt.Sprint("k-", tc.name)
			if _, err := c.cache.Set(ctx, connect.NewRequest(&distcachev1.SetRequest{Group: "g", Key: key, Value: []byte("v"), Ttl: tc.ttl})); err != nil {
				t.Fatal(err)
			}
			res, err := c.cache.Get(ctx, connect.NewRequest(&distcachev1.GetRequest{Group: "g", Key: key}))
			if err != nil {
				t.Fatal(err)
			}
			if (res.Msg.Ttl != nil) != tc.wantTTL {
				t.Fatalf("ttl = %v, want present=%v", res.Msg.Ttl, tc.wantTTL)
			}
			if tc.wantTTL && (res.Msg.Ttl.AsDuration() > tc.max || res.Msg.Ttl.AsDuration() < tc.max-time.Minute) {
				t.Fatalf("ttl = %v, want about %v", res.Msg.Ttl.AsDuration(), tc.max)
			}
		})
	}
}
