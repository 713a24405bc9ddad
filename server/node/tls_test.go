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

// TestMutualTLS runs two nodes that require client certificates signed by
// --client-ca: a client without one is refused at the handshake, one with
// one is served, and the nodes still reach each other (peers present
// their own certificate).
func TestMutualTLS(t *testing.T) {
	cert, key, pool := testcert.SelfSigned(t, t.TempDir())
	nodes := startCluster(t, 2, Config{Cluster: ClusterConfig{TLSCert: cert, TLSKey: key, TLSCA: cert, ClientCA: cert}})
	owner := ownerOf(t, nodes, "hello")
	url := "https://" + nodes[1-owner].url[len("http://"):]
	get := func(cfg *tls.Config) (*connect.Response[distcachev1.GetResponse], error) {
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}}
		c := distcachev1connect.NewCacheServiceClient(client, url, connect.WithGRPC())
		return c.Get(context.Background(), connect.NewRequest(&distcachev1.GetRequest{Group: "default", Key: "hello"}))
	}
	if _, err := get(&tls.Config{RootCAs: pool}); err == nil {
		t.Fatal("a client without a certificate was served")
	}
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	res, err := get(&tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}})
	if err != nil || string(res.Msg.Value) != "world" || res.Msg.Source != distcachev1.Source_SOURCE_PEER {
		t.Fatalf("Get with a client certificate through the non-owner = %v, %v; want world from the peer", res, err)
	}
}
