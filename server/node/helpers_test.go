package node

import (
	"context"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"testing"

	"connectrpc.com/connect"

	"github.com/distcache/distcache/gen/distcache/v1/distcachev1connect"
)

// testNode is a node serving on a loopback port for one test.
type testNode struct {
	*Node
	url string
}

// startNode starts a node on 127.0.0.1 with a fresh database; cfg's
// DBPath is filled in when empty. The node stops when the test ends.
func startNode(t testing.TB, cfg Config) *testNode {
	t.Helper()
	if cfg.DBPath == "" {
		cfg.DBPath = filepath.Join(t.TempDir(), "distcache.db")
	}
	if cfg.PluginsDir == "" {
		cfg.PluginsDir = t.TempDir()
	}
	n, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		if err := n.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return &testNode{Node: n, url: "http://" + ln.Addr().String()}
}

// protocol is one way a client talks to a node.
type protocol struct {
	name string
	http *http.Client
	opts []connect.ClientOption
}

func h2cClient() *http.Client {
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: tr}
}

// protocols are the wire protocols every RPC is tested in.
func protocols() []protocol {
	return []protocol{
		{"grpc", h2cClient(), []connect.ClientOption{connect.WithGRPC()}},
		{"grpcweb", http.DefaultClient, []connect.ClientOption{connect.WithGRPCWeb()}},
		{"connect+proto", http.DefaultClient, nil},
		{"connect+json", http.DefaultClient, []connect.ClientOption{connect.WithProtoJSON()}},
		{"connect+json+get", http.DefaultClient, []connect.ClientOption{connect.WithProtoJSON(), connect.WithHTTPGet()}},
	}
}

type clients struct {
	cache distcachev1connect.CacheServiceClient
	admin distcachev1connect.AdminServiceClient
}

func (n *testNode) clients(p protocol) clients {
	return clients{
		cache: distcachev1connect.NewCacheServiceClient(p.http, n.url, p.opts...),
		admin: distcachev1connect.NewAdminServiceClient(p.http, n.url, p.opts...),
	}
}

func wantCode(t testing.TB, err error, want connect.Code) *connect.Error {
	t.Helper()
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Code() != want {
		t.Fatalf("error = %v, want code %v", err, want)
	}
	return ce
}
