package clienttest

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/distcache/distcache/server/node"
)

// testNode is a node serving on a loopback port.
type testNode struct {
	*node.Node
	url      string
	stop     func() error
	stopOnce sync.Once
	stopErr  error
}

// Stop stops serving and closes the node; later calls do nothing.
func (n *testNode) Stop() error {
	n.stopOnce.Do(func() { n.stopErr = n.stop() })
	return n.stopErr
}

// serveNode starts a node on ln; dir holds its database and plugins
// unless cfg names them.
func serveNode(cfg node.Config, ln net.Listener, dir string) (*testNode, error) {
	if cfg.DBPath == "" {
		cfg.DBPath = filepath.Join(dir, "distcache.db")
	}
	if cfg.PluginsDir == "" {
		// The client does not care which policy serves: spare every node
		// the built-in plugins' compiles.
		cfg.NoBuiltinPlugins = true
		cfg.PluginsDir = filepath.Join(dir, "plugins")
		if err := os.MkdirAll(cfg.PluginsDir, 0o755); err != nil {
			return nil, err
		}
	}
	n, err := node.New(context.Background(), cfg)
	if err != nil {
		return nil, errors.Join(err, ln.Close())
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Serve(ctx, ln) }()
	return &testNode{Node: n, url: "http://" + ln.Addr().String(), stop: func() error {
		cancel()
		return errors.Join(<-done, n.Close())
	}}, nil
}

// startNode starts a node on 127.0.0.1 with a fresh database; it stops
// when the test ends.
func startNode(t testing.TB, cfg node.Config) *testNode {
	t.Helper()
	return startNodeOn(t, cfg, listen(t))
}

func startNodeOn(t testing.TB, cfg node.Config, ln net.Listener) *testNode {
	t.Helper()
	n, err := serveNode(cfg, ln, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Stop(); err != nil {
			t.Errorf("stopping node %s: %v", n.url, err)
		}
	})
	return n
}

func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// startCluster starts n nodes that know each other through a static peer
// list, sharing one database as nodes share a real source. cfg is applied
// to every node.
func startCluster(t *testing.T, n int, cfg node.Config) []*testNode {
	t.Helper()
	lns := make([]net.Listener, n)
	for i := range lns {
		lns[i] = listen(t)
	}
	return startClusterOn(t, lns, cfg)
}

// startClusterOn is startCluster with one node on each of lns.
func startClusterOn(t *testing.T, lns []net.Listener, cfg node.Config) []*testNode {
	t.Helper()
	if cfg.DBPath == "" {
		cfg.DBPath = filepath.Join(t.TempDir(), "shared.db")
	}
	var peers []string
	for i, ln := range lns {
		peers = append(peers, "n"+string(rune('a'+i))+"="+ln.Addr().String())
	}
	nodes := make([]*testNode, len(lns))
	for i, ln := range lns {
		c := cfg
		c.Cluster.NodeID = "n" + string(rune('a'+i))
		c.Cluster.Advertise = ln.Addr().String()
		c.Cluster.Peers = peers
		c.Cluster.Secret = "test-cluster-secret"
		c.Cluster.SharedDB = true
		nodes[i] = startNodeOn(t, c, ln)
	}
	for _, nd := range nodes {
		for nd.Picker().Ring().Len() != len(lns) {
			time.Sleep(5 * time.Millisecond)
		}
	}
	return nodes
}

// deadEndpoint returns the URL of a loopback port nothing listens on.
func deadEndpoint(t testing.TB) string {
	t.Helper()
	ln := listen(t)
	url := "http://" + ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return url
}

// countingTransport counts the cache and admin requests it sends, in all
// and by host, and remembers the last one's Authorization header.
// ClusterService requests (membership refreshes, probes of ejected
// endpoints) are not counted.
type countingTransport struct {
	next   http.RoundTripper
	n      atomic.Int64
	byHost sync.Map     // host:port -> *atomic.Int64
	auth   atomic.Value // string
}

func (c *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !strings.Contains(req.URL.Path, "ClusterService/") {
		c.n.Add(1)
		n, _ := c.byHost.LoadOrStore(req.URL.Host, new(atomic.Int64))
		n.(*atomic.Int64).Add(1)
		c.auth.Store(req.Header.Get("Authorization"))
	}
	return c.next.RoundTrip(req)
}

// to returns how many counted requests went to the node at base URL u.
func (c *countingTransport) to(u string) int64 {
	n, ok := c.byHost.Load(strings.TrimPrefix(u, "http://"))
	if !ok {
		return 0
	}
	return n.(*atomic.Int64).Load()
}

// h2cTransport speaks HTTP/2 without TLS, as gRPC needs.
func h2cTransport() *http.Transport {
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	return tr
}

// countingClient returns an HTTP client that counts its requests.
func countingClient(t testing.TB) (*http.Client, *countingTransport) {
	tr := h2cTransport()
	t.Cleanup(tr.CloseIdleConnections)
	ct := &countingTransport{next: tr}
	return &http.Client{Transport: ct}, ct
}
