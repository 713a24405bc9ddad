package api

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"connectrpc.com/connect"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	distcachev1 "github.com/distcache/distcache/gen/distcache/v1"
	"github.com/distcache/distcache/gen/distcache/v1/distcachev1connect"
	"github.com/distcache/distcache/server/peer"
)

const tokensFile = `# scopes     token
read          reader-0123456789abcdef
write         writer-0123456789abcdef
read,write    readwrite-0123456789ab
admin         admin-0123456789abcdef
`

// bearer sets "Authorization: Bearer token" on every call of a client.
type bearer string

func (b bearer) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if b != "" {
			req.Header().Set("Authorization", "Bearer "+string(b))
		}
		return next(ctx, req)
	}
}
func (b bearer) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		if b != "" {
			conn.RequestHeader().Set("Authorization", "Bearer "+string(b))
		}
		return conn
	}
}
func (b bearer) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// TestTokenScopes checks every scope against every kind of public call,
// in Connect JSON, gRPC and gRPC-Web: a call without a token is
// unauthenticated, one whose token lacks the scope is permission_denied,
// and a refused write changes nothing. Health stays open.
func TestTokenScopes(t *testing.T) {
	tokens, err := ParseTokens(strings.NewReader(tokensFile))
	if err != nil {
		t.Fatal(err)
	}
	addr, g := serveGroup(t, Config{Tokens: tokens}, ServeOptions{})
	url := "http://" + addr
	h2c := &http.Client{Transport: &http.Transport{Protocols: h2cOnly()}}
	protocols := []struct {
		name string
		http *http.Client
		opts []connect.ClientOption
	}{
		{"connect+json", http.DefaultClient, []connect.ClientOption{connect.WithProtoJSON()}},
		{"grpc", h2c, []connect.ClientOption{connect.WithGRPC()}},
		{"grpcweb", http.DefaultClient, []connect.ClientOption{connect.WithGRPCWeb()}},
	}
	group := "g"
	type call struct {
		name  string
		scope Scope
		run   func(context.Context, distcachev1connect.CacheServiceClient, distcachev1connect.AdminServiceClient) error
	}
	calls := []call{
		{"Get", ScopeRead, func(ctx context.Context, c distcachev1connect.CacheServiceClient, _ distcachev1connect.AdminServiceClient) error {
			_, err := c.Get(ctx, connect.NewRequest(&distcachev1.GetRequest{Group: "g", Key: "k"}))
			if connect.CodeOf(err) == connect.CodeNotFound {
				return nil
			}
			return err
		}},
		{"Set", ScopeWrite, func(ctx context.Context, c distcachev1connect.CacheServiceClient, _ distcachev1connect.AdminServiceClient) error {
			_, err := c.Set(ctx, connect.NewRequest(&distcachev1.SetRequest{Group: "g", Key: "w", Value: []byte("v")}))
			return err
		}},
		{"Delete", ScopeWrite, func(ctx context.Context, c distcachev1connect.CacheServiceClient, _ distcachev1connect.AdminServiceClient) error {
			_, err := c.Delete(ctx, connect.NewRequest(&distcachev1.DeleteRequest{Group: "g", Key: "w"}))
			return err
		}},
		{"GetMany", ScopeRead, func(ctx context.Context, c distcachev1connect.CacheServiceClient, _ distcachev1connect.AdminServiceClient) error {
			_, err := c.GetMany(ctx, connect.NewRequest(&distcachev1.GetManyRequest{Group: "g", Keys: []string{"k"}}))
			return err
		}},
		{"SetMany", ScopeWrite, func(ctx context.Context, c distcachev1connect.CacheServiceClient, _ distcachev1connect.AdminServiceClient) error {
			res, err := c.SetMany(ctx, connect.NewRequest(&distcachev1.SetManyRequest{Group: "g", Entries: []*distcachev1.SetEntry{{Key: "w2", Value: []byte("v")}}}))
			if err == nil && res.Msg.GetResults()[0].GetError() != nil {
				return peer.ErrorOfKey(res.Msg.GetResults()[0].GetError())
			}
			return err
		}},
		{"DeleteMany", ScopeWrite, func(ctx context.Context, c distcachev1connect.CacheServiceClient, _ distcachev1connect.AdminServiceClient) error {
			_, err := c.DeleteMany(ctx, connect.NewRequest(&distcachev1.DeleteManyRequest{Group: "g", Keys: []string{"w2"}}))
			return err
		}},
		{"GetStats", ScopeRead, func(ctx context.Context, _ distcachev1connect.CacheServiceClient, a distcachev1connect.AdminServiceClient) error {
			_, err := a.GetStats(ctx, connect.NewRequest(&distcachev1.GetStatsRequest{Group: &group}))
			return err
		}},
		{"Purge", ScopeAdmin, func(ctx context.Context, _ distcachev1connect.CacheServiceClient, a distcachev1connect.AdminServiceClient) error {
			_, err := a.Purge(ctx, connect.NewRequest(&distcachev1.PurgeRequest{Group: "g"}))
			return err
		}},
	}
	tokenOf := map[string]string{
		"none": "", "read": "reader-0123456789abcdef", "write": "writer-0123456789abcdef",
		"read,write": "readwrite-0123456789ab", "admin": "admin-0123456789abcdef", "unknown": "guess-0123456789abcdef",
	}
	for _, p := range protocols {
		for holder, token := range tokenOf {
			t.Run(p.name+"/"+holder, func(t *testing.T) {
				opts := append(append([]connect.ClientOption{}, p.opts...), connect.WithInterceptors(bearer(token)))
				cc := distcachev1connect.NewCacheServiceClient(p.http, url, opts...)
				ac := distcachev1connect.NewAdminServiceClient(p.http, url, opts...)
				for _, c := range calls {
					err := c.run(context.Background(), cc, ac)
					allowed := strings.Contains(","+holder+",", ","+string(c.scope)+",")
					switch {
					case allowed && err != nil:
						t.Errorf("%s with a %s token: %v", c.name, holder, err)
					case !allowed && (holder == "none" || holder == "unknown") && connect.CodeOf(err) != connect.CodeUnauthenticated:
						t.Errorf("%s with no valid token: %v, want unauthenticated", c.name, err)
					case !allowed && holder != "none" && holder != "unknown" && connect.CodeOf(err) != connect.CodePermissionDenied:
						t.Errorf("%s with a %s token: %v, want permission_denied", c.name, holder, err)
					}
				}
				// Health needs no token.
				hc := connect.NewClient[healthpb.HealthCheckRequest, healthpb.HealthCheckResponse](
					p.http, url+"/grpc.health.v1.Health/Check", p.opts...)
				if _, err := hc.CallUnary(context.Background(), connect.NewRequest(&healthpb.HealthCheckRequest{})); err != nil {
					t.Errorf("health with a %s token: %v", holder, err)
				}
			})
		}
	}
	// A refused write changed nothing: only the writers' Set/Delete pairs
	// ran, so "w" is absent and nothing else was stored.
	if s := g.Stats(); s.Items != 0 {
		t.Fatalf("after the calls the group holds %d items", s.Items)
	}
}

// TestParseTokensErrors checks that every kind of bad tokens file is
// refused with the line and the problem.
func TestParseTokensErrors(t *testing.T) {
	for _, c := range []struct{ file, want string }{
		{"read\n", "line 1: want \"SCOPES TOKEN\""},
		{"# c\nsuper abcdefghijklmnopq\n", `line 2: unknown scope "super"`},
		{"read short\n", "too short"},
		{"read abcdefghijklmnopq\nwrite abcdefghijklmnopq\n", "line 2: token listed twice"},
		{"# only comments\n\n", "no tokens"},
		{"read a b\n", "got 3 fields"},
	} {
		if _, err := ParseTokens(strings.NewReader(c.file)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseTokens(%q) = %v, want %q", c.file, err, c.want)
		}
	}
	if tk := (Tokens{}); tk.Enabled() {
		t.Fatal("no tokens, yet enabled")
	}
}
