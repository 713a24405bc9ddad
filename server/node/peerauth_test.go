package node

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"connectrpc.com/connect"

	distcachev1 "github.com/distcache/distcache/gen/distcache/v1"
	"github.com/distcache/distcache/gen/distcache/v1/distcachev1connect"
	"github.com/distcache/distcache/server/peer"
)

// secretHeader adds a header to every call of a client.
type secretHeader struct{ name, value string }

func (h secretHeader) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		req.Header().Set(h.name, h.value)
		return next(ctx, req)
	}
}
func (h secretHeader) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}
func (h secretHeader) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// TestPeerServiceNeedsTheClusterSecret calls PeerService on a cluster
// member as an outsider would, in every protocol: without the secret, with
// a wrong one, and with the right one from a browser (an Origin header).
// Each is refused, and the key it tried to store or remove is unchanged.
func TestPeerServiceNeedsTheClusterSecret(t *testing.T) {
	nodes := startCluster(t, 2, Config{})
	n := nodes[0]
	ctx := context.Background()
	// A key n owns, with a value the outsider will try to replace.
	key := ""
	for i := 0; key == ""; i++ {
		k := "auth-" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		if _, remote := n.Picker().Owner(k); !remote {
			key = k
		}
	}
	setOn(t, n, key, "original")
	cases := []struct {
		name   string
		header []connect.Interceptor
		want   connect.Code
	}{
		{"no secret", nil, connect.CodeUnauthenticated},
		{"wrong secret", []connect.Interceptor{secretHeader{peer.SecretHeader, "guess"}}, connect.CodePermissionDenied},
		{"right secret from a browser", []connect.Interceptor{
			secretHeader{peer.SecretHeader, "test-cluster-secret"}, secretHeader{"Origin", "http://localhost:3000"},
		}, connect.CodePermissionDenied},
	}
	for _, p := range protocols()[:4] {
		for _, c := range cases {
			t.Run(p.name+"/"+c.name, func(t *testing.T) {
				opts := append(append([]connect.ClientOption{}, p.opts...), connect.WithInterceptors(c.header...))
				pc := distcachev1connect.NewPeerServiceClient(p.http, n.url, opts...)
				_, err := pc.Store(ctx, connect.NewRequest(&distcachev1.StoreRequest{Group: "default", Key: key, Value: []byte("forged")}))
				wantCode(t, err, c.want)
				_, err = pc.Remove(ctx, connect.NewRequest(&distcachev1.RemoveRequest{Group: "default", Key: key}))
				wantCode(t, err, c.want)
				_, err = pc.Replicate(ctx, connect.NewRequest(&distcachev1.ReplicateRequest{Group: "default",
					Records: []*distcachev1.Record{{Key: key, Value: []byte("forged"), Version: 1 << 62}}}))
				wantCode(t, err, c.want)
				_, err = pc.Fetch(ctx, connect.NewRequest(&distcachev1.FetchRequest{Group: "default", Key: key}))
				wantCode(t, err, c.want)
				if res := getOn(t, n, key); string(res.Value) != "original" {
					t.Fatalf("after a refused peer call, %s = %q", key, res.Value)
				}
			})
		}
	}
	// The members themselves still talk: a key the other node owns is
	// fetched through the peer service.
	other := nodes[1]
	for i := 0; ; i++ {
		k := "peer-" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		if _, remote := other.Picker().Owner(k); remote {
			setOn(t, other, k, "v")
			if res := getOn(t, other, k); string(res.Value) != "v" {
				t.Fatalf("a member's peer call failed: %q", res.Value)
			}
			break
		}
	}
}

// TestPeerServiceOutsideCORS checks that a browser's preflight for the
// peer service gets no CORS allowance, while the public API's does.
func TestPeerServiceOutsideCORS(t *testing.T) {
	n := startNode(t, Config{})
	preflight := func(path string) string {
		req, err := http.NewRequest(http.MethodOptions, n.url+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Origin", "http://localhost:3000")
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "content-type")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		return res.Header.Get("Access-Control-Allow-Origin")
	}
	if got := preflight("/distcache.v1.CacheService/Get"); got == "" {
		t.Fatal("the public API lost its CORS allowance")
	}
	if got := preflight("/distcache.v1.PeerService/Store"); got != "" {
		t.Fatalf("the peer service allows browser origin %q", got)
	}
}

// TestClusterNeedsASecret checks that a clustered node will not start
// without a cluster secret, and says why.
func TestClusterNeedsASecret(t *testing.T) {
	_, err := New(context.Background(), Config{DBPath: t.TempDir() + "/x.db", PluginsDir: t.TempDir(),
		Cluster: ClusterConfig{NodeID: "a", Advertise: "127.0.0.1:1", Peers: []string{"a=127.0.0.1:1"}, SharedDB: true}})
	if err == nil || !strings.Contains(err.Error(), "--cluster-secret") {
		t.Fatalf("New without a secret = %v, want an error naming --cluster-secret", err)
	}
}
