package node

import (
	"context"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"testing"

	"connectrpc.com/connect"

	"github.com/distcache/distcache/gen/distcache/v1/distcachev1connect"
)

// testNode is a node serving on a loopback port for one test.
type testNode struct {
	*Node
	url      string
	stop     func()
	stopOnce sync.Once
}

// Stop stops serving and closes the node; later calls do nothing.
func (n *testNode) Stop() { n.stopOnce.Do(n.stop) }

// startNode starts a node on 127.0.0.1 with a fresh database; cfg's
// DBPath is filled in when empty. The node stops when the test ends.
func startNode(t testing.TB, cfg Config) *testNode {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return startNodeOn(t, cfg, ln)
}

// startNodeOn is startNode on a listener the test already holds, so that
// several nodes can know each other's addresses before they start.
func startNodeOn(t testing.TB, cfg Config, ln net.Listener) *testNode {
	t.Helper()
	if cfg.DBPath == "" {
		cfg.DBPath = filepath.Join(t.TempDir(), "distcache.db")
	}
	if cfg.PluginsDir == "" {
		cfg.PluginsDir = t.TempDir()
	}
	if cfg.PluginCacheDir == "" {
		// One compilation cache for the test run: compiling is slow under
		// the race detector.
		cfg.PluginCacheDir = filepath.Join(wasm.Dir(t), "compiled")
	}
	n, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return serveNode(t, n, ln)
}

// serveNode serves n on ln until the test ends, then stops and closes it.
func serveNode(t testing.TB, n *Node, ln net.Listener) *testNode {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Serve(ctx, ln) }()
	tn := &testNode{Node: n, url: "http://" + ln.Addr().String()}
	tn.stop = func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		if err := n.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
	t.Cleanup(tn.Stop)
	return tn
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
	cache   distcachev1connect.CacheServiceClient
	admin   distcachev1connect.AdminServiceClient
	cluster distcachev1connect.ClusterServiceClient
}

func (n *testNode) clients(p protocol) clients {
	return clients{
		cache:   distcachev1connect.NewCacheServiceClient(p.http, n.url, p.opts...),
		admin:   distcachev1connect.NewAdminServiceClient(p.http, n.url, p.opts...),
		cluster: distcachev1connect.NewClusterServiceClient(p.http, n.url, p.opts...),
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
