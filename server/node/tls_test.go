package node

import (
	"context"
	"crypto/tls"
	"net/http"
	"testing"

	"connectrpc.com/connect"

	distcachev1 "github.com/distcache/distcache/gen/distcache/v1"
	"github.com/distcache/distcache/gen/distcache/v1/distcachev1connect"
	"github.com/distcache/distcache/internal/testcert"
)

// TestPeersOverTLS runs two nodes that serve HTTPS and call each other
// over HTTPS; a client reaches the non-owner, which fetches from the owner.
func TestPeersOverTLS(t *testing.T) {
	cert, key, pool := testcert.SelfSigned(t, t.TempDir())
	nodes := startCluster(t, 2, Config{Cluster: ClusterConfig{TLSCert: cert, TLSKey: key, TLSCA: cert}})
	owner := ownerOf(t, nodes, "hello")
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	url := "https://" + nodes[1-owner].url[len("http://"):]
	c := distcachev1connect.NewCacheServiceClient(client, url, connect.WithGRPC())
	res, err := c.Get(context.Background(), connect.NewRequest(&distcachev1.GetRequest{Group: "default", Key: "hello"}))
	if err != nil || string(res.Msg.Value) != "world" || res.Msg.Source != distcachev1.Source_SOURCE_PEER {
		t.Fatalf("Get over TLS through the non-owner = %v, %v; want world from the peer", res, err)
	}
	// Plain HTTP is refused by a TLS node.
	plain := distcachev1connect.NewCacheServiceClient(http.DefaultClient, nodes[0].url)
	if _, err := plain.Get(context.Background(), connect.NewRequest(&distcachev1.GetRequest{Group: "default", Key: "hello"})); err == nil {
		t.Fatal("a TLS node answered plain HTTP")
	}
}
