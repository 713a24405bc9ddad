package e2e

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"

	distcachev1 "github.com/distcache/distcache/gen/distcache/v1"
	"github.com/distcache/distcache/gen/distcache/v1/distcachev1connect"
	"github.com/distcache/distcache/internal/devetcd"
)

// Cluster timing: how often waitConverged looks, and how long one RPC of
// the test may take.
const (
	pollEvery  = 20 * time.Millisecond
	rpcTimeout = 2 * time.Second
)

// e2eClusterSecret is the cluster secret of every node the tests start.
const e2eClusterSecret = "e2e-cluster-secret"

// rpcClient is the HTTP client of the test's own RPCs. It is safe for
// concurrent use.
var rpcClient = &http.Client{Timeout: rpcTimeout}

// clusterNode is one node process of a cluster, with what it takes to
// start it again with the same identity and database.
type clusterNode struct {
	*nodeProc
	id, addr, db string
	etcd         string
	leaseTTL     time.Duration
	args         []string  // more flags, after the ones every node gets
	env          []string  // more environment ("NAME=value")
	ownDB        bool      // db is the node's own: no --shared-db
	servingAt    time.Time // when the node logged msg=serving, by its clock
}

// testEtcd is a devetcd server that can be stopped and started again on
// the same data directory and ports.
type testEtcd struct {
	dir, clientAddr, peerAddr string

	mu  sync.Mutex
	srv *devetcd.Server // nil while stopped
}

// startEtcd starts a real etcd in the test process on free loopback ports
// and stops it when the test ends (after every node started later).
func startEtcd(t *testing.T) *testEtcd {
	t.Helper()
	e := &testEtcd{dir: t.TempDir(), clientAddr: freeAddr(t), peerAddr: freeAddr(t)}
	e.start(t)
	t.Cleanup(e.stop)
	return e
}

// start starts etcd again on e's directory and ports.
func (e *testEtcd) start(t *testing.T) {
	t.Helper()
	srv, err := devetcd.Start(e.dir, e.clientAddr, e.peerAddr)
	if err != nil {
		t.Fatalf("etcd: %v", err)
	}
	e.mu.Lock()
	e.srv = srv
	e.mu.Unlock()
}

// stop stops etcd if it runs.
func (e *testEtcd) stop() {
	e.mu.Lock()
	srv := e.srv
	e.srv = nil
	e.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

// startCluster starts n nodes, node1 to nodeN, registered in the etcd at
// etcdEndpoint with the given lease TTL, and waits until each serves. The
// nodes are stopped when the test ends.
func startCluster(t *testing.T, etcdEndpoint string, n int, leaseTTL time.Duration) []*clusterNode {
	t.Helper()
	nodes := make([]*clusterNode, n)
	// The default group writes through: every node uses one SQLite file.
	db := filepath.Join(t.TempDir(), "shared.db")
	for i := range nodes {
		nodes[i] = &clusterNode{
			id: fmt.Sprintf("node%d", i+1), addr: freeAddr(t), db: db,
			etcd: etcdEndpoint, leaseTTL: leaseTTL,
		}
		nodes[i].launch(t, t)
	}
	for _, n := range nodes {
		n.waitServing(t)
	}
	return nodes
}

// launch starts the node's process without waiting for it to serve; owner
// stops it when owner's test ends. Failures are reported to t.
func (n *clusterNode) launch(owner, t *testing.T) {
	t.Helper()
	args := []string{
		"--addr", n.addr, "--db", n.db, "--node-id", n.id,
		"--etcd", n.etcd, "--lease-ttl", n.leaseTTL.String(), "--cluster-secret", e2eClusterSecret,
	}
	if !n.ownDB {
		args = append(args, "--shared-db")
	}
	args = append(args, n.args...)
	p := &nodeProc{t: owner, errBuf: &syncBuffer{}, done: make(chan struct{}), baseURL: "http://" + n.addr}
	p.cmd = exec.Command(bins.distcache, args...)
	p.cmd.Dir, p.cmd.Env, p.cmd.Stderr = filepath.Dir(n.db), childEnv(n.env...), p.errBuf
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = p.cmd.Wait()
		p.code = p.cmd.ProcessState.ExitCode()
		close(p.done)
	}()
	owner.Cleanup(func() {
		p.stop(syscall.SIGTERM)
		if owner.Failed() {
			owner.Logf("%s (%s) stderr:\n%s", n.id, n.addr, p.stderr())
		}
	})
	n.nodeProc = p
}

// restart starts the node again, same ID, address and database, and waits
// until it serves.
func (n *clusterNode) restart(owner, t *testing.T) {
	t.Helper()
	n.launch(owner, t)
	n.waitServing(t)
}

// waitServing waits until the node logs msg=serving and records when it
// did, failing t if the node exits first or takes more than readyTimeout.
func (n *clusterNode) waitServing(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(readyTimeout)
	for time.Now().Before(deadline) {
		if line := lineWith(n.stderr(), "msg=serving"); line != "" {
			n.servingAt = logTime(t, line)
			return
		}
		select {
		case <-n.done:
			t.Fatalf("%s exited with code %d before serving; stderr:\n%s", n.id, n.code, n.stderr())
		case <-time.After(2 * time.Millisecond):
		}
	}
	t.Fatalf("%s not serving after %v; stderr:\n%s", n.id, readyTimeout, n.stderr())
}

// logTime returns the time= field of a text log line.
func logTime(t *testing.T, line string) time.Time {
	t.Helper()
	for f := range strings.FieldsSeq(line) {
		if v, ok := strings.CutPrefix(f, "time="); ok {
			ts, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				t.Fatalf("log line %q: %v", line, err)
			}
			return ts
		}
	}
	t.Fatalf("log line %q has no time", line)
	return time.Time{}
}

// countLines returns how many lines of the node's stderr contain sub.
func (n *clusterNode) countLines(sub string) int {
	c := 0
	for line := range strings.Lines(n.stderr()) {
		if strings.Contains(line, sub) {
			c++
		}
	}
	return c
}

// kill sends sig to the node and returns when it was sent, without
// waiting for the node to exit.
func (n *clusterNode) kill(t *testing.T, sig os.Signal) time.Time {
	t.Helper()
	at := time.Now()
	if err := n.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v to %s: %v", sig, n.id, err)
	}
	return at
}

// ids returns the IDs of nodes, sorted.
func ids(nodes ...*clusterNode) []string {
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = n.id
	}
	slices.Sort(out)
	return out
}

// clusterClient calls ClusterService on the node.
func (n *clusterNode) clusterClient() distcachev1connect.ClusterServiceClient {
	return distcachev1connect.NewClusterServiceClient(rpcClient, n.baseURL)
}

// cacheClient calls CacheService on the node.
func (n *clusterNode) cacheClient() distcachev1connect.CacheServiceClient {
	return distcachev1connect.NewCacheServiceClient(rpcClient, n.baseURL)
}

// members returns the sorted IDs of the members of the node's ring.
func members(ctx context.Context, n *clusterNode) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, rpcTimeout)
	defer cancel()
	res, err := n.clusterClient().ListMembers(ctx, connect.NewRequest(&distcachev1.ListMembersRequest{}))
	if err != nil {
		return nil, fmt.Errorf("%s: ListMembers: %w", n.id, err)
	}
	var out []string
	for _, m := range res.Msg.GetMembers() {
		out = append(out, m.GetId())
	}
	slices.Sort(out)
	return out, nil
}

// owner returns the ID of the member that owns key, as n sees it.
func owner(t *testing.T, n *clusterNode, key string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), rpcTimeout)
	defer cancel()
	res, err := n.clusterClient().Owner(ctx, connect.NewRequest(&distcachev1.OwnerRequest{Key: key}))
	if err != nil {
		t.Fatalf("%s: Owner(%q): %v", n.id, key, err)
	}
	return res.Msg.GetOwner().GetId()
}

// waitConverged polls every node's ring every pollEvery until each lists
// exactly wantIDs, and returns how long after from that was first seen. It
// fails t if that takes more than deadline after the call.
func waitConverged(t *testing.T, nodes []*clusterNode, wantIDs []string, from time.Time, deadline time.Duration) time.Duration {
	t.Helper()
	want := slices.Sorted(slices.Values(wantIDs))
	ctx, cancel := context.WithTimeout(t.Context(), deadline)
	defer cancel()
	var last map[string]string // the last view of each node, for the failure message
	for {
		views := viewsOf(ctx, nodes)
		seen := time.Now()
		if allEqual(views, want) {
			return seen.Sub(from)
		}
		last = views
		select {
		case <-ctx.Done():
			t.Fatalf("rings did not converge to %v within %v; last views:\n%s", want, deadline, formatViews(last))
		case <-time.After(pollEvery):
		}
	}
}

// viewsOf asks every node for its members at once and returns each
// node's answer (or error) as text, by node ID.
func viewsOf(ctx context.Context, nodes []*clusterNode) map[string]string {
	views := make(map[string]string, len(nodes))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Go(func() {
			ms, err := members(ctx, n)
			v := strings.Join(ms, ",")
			if err != nil {
				v = "error: " + err.Error()
			}
			mu.Lock()
			views[n.id] = v
			mu.Unlock()
		})
	}
	wg.Wait()
	return views
}

// allEqual reports whether every view is the list want.
func allEqual(views map[string]string, want []string) bool {
	w := strings.Join(want, ",")
	for _, v := range views {
		if v != w {
			return false
		}
	}
	return true
}

// formatViews prints views one per line, sorted by node ID.
func formatViews(views map[string]string) string {
	var b strings.Builder
	for _, id := range slices.Sorted(maps.Keys(views)) {
		fmt.Fprintf(&b, "  %s: [%s]\n", id, views[id])
	}
	return b.String()
}

// get calls CacheService/Get on n.
func get(ctx context.Context, n *clusterNode, key string) (*distcachev1.GetResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, rpcTimeout)
	defer cancel()
	res, err := n.cacheClient().Get(ctx, connect.NewRequest(&distcachev1.GetRequest{Group: "default", Key: key}))
	if err != nil {
		return nil, fmt.Errorf("%s: Get(%q): %w", n.id, key, err)
	}
	return res.Msg, nil
}

// mustGet is get that fails t on an error or a value other than want, and
// returns the source of the value.
func mustGet(t *testing.T, n *clusterNode, key, want string) distcachev1.Source {
	t.Helper()
	res, err := get(t.Context(), n, key)
	if err != nil {
		t.Fatal(err)
	}
	if string(res.GetValue()) != want {
		t.Fatalf("%s: Get(%q) = %q (%v), want %q", n.id, key, res.GetValue(), res.GetSource(), want)
	}
	return res.GetSource()
}

// mustSet calls CacheService/Set on n and fails t on an error.
func mustSet(t *testing.T, n *clusterNode, key, value string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), rpcTimeout)
	defer cancel()
	req := &distcachev1.SetRequest{Group: "default", Key: key, Value: []byte(value)}
	if _, err := n.cacheClient().Set(ctx, connect.NewRequest(req)); err != nil {
		t.Fatalf("%s: Set(%q): %v", n.id, key, err)
	}
}

// alive returns nodes without the ones in gone.
func alive(nodes []*clusterNode, gone ...*clusterNode) []*clusterNode {
	return slices.DeleteFunc(slices.Clone(nodes), func(n *clusterNode) bool { return slices.Contains(gone, n) })
}

// byID returns the node of nodes with the ID id, or nil.
func byID(nodes []*clusterNode, id string) *clusterNode {
	for _, n := range nodes {
		if n.id == id {
			return n
		}
	}
	return nil
}
