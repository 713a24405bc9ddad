package node

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	distcachev1 "github.com/distcache/distcache/gen/distcache/v1"
	"github.com/distcache/distcache/server/cluster"
)

// startCluster starts n nodes on loopback that know each other through a
// static peer list. cfg is applied to every node.
func startCluster(t *testing.T, n int, cfg Config) []*testNode { return startClusterTB(t, n, cfg) }

func startClusterB(b *testing.B, n int) []*testNode { return startClusterTB(b, n, Config{}) }

func startClusterTB(t testing.TB, n int, cfg Config) []*testNode {
	t.Helper()
	lns := make([]net.Listener, n)
	var peers []string
	for i := range lns {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns[i] = ln
		peers = append(peers, "n"+string(rune('a'+i))+"="+ln.Addr().String())
	}
	if cfg.DBPath == "" {
		// The default group writes through: the nodes share one file.
		cfg.DBPath = filepath.Join(t.TempDir(), "shared.db")
		cfg.Cluster.SharedDB = true
	}
	nodes := make([]*testNode, n)
	for i, ln := range lns {
		c := cfg
		c.Cluster.NodeID = "n" + string(rune('a'+i))
		c.Cluster.Advertise = ln.Addr().String()
		c.Cluster.Peers = peers
		if c.Cluster.Secret == "" {
			c.Cluster.Secret = "test-cluster-secret"
		}
		nodes[i] = startNodeOn(t, c, ln)
	}
	// The built-in plugins compile in the background: wait for them, so
	// their CPU does not make peer calls miss their deadline.
	for _, nd := range nodes {
		waitUntil(t, "the plugins of "+nd.Picker().Self(), func() bool { return nd.pluginsLoaded.Load() })
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, nd := range nodes {
		for nd.Picker().Ring().Len() != n {
			if time.Now().After(deadline) {
				t.Fatalf("node %s's ring never held all %d nodes", nd.Picker().Self(), n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return nodes
}

// ownerOf returns the index of the node that owns key.
func ownerOf(t *testing.T, nodes []*testNode, key string) int {
	t.Helper()
	m, _ := nodes[0].Picker().Ring().Owner(key)
	for i, n := range nodes {
		if n.Picker().Self() == m.ID {
			return i
		}
	}
	t.Fatalf("no node owns %q", key)
	return -1
}

func getOn(t *testing.T, n *testNode, key string) *distcachev1.GetResponse {
	t.Helper()
	res, err := n.clients(protocols()[0]).cache.Get(context.Background(), connect.NewRequest(&distcachev1.GetRequest{Group: "default", Key: key}))
	if err != nil {
		t.Fatalf("Get(%q) on %s: %v", key, n.Picker().Self(), err)
	}
	return res.Msg
}

func setOn(t *testing.T, n *testNode, key, value string) {
	t.Helper()
	_, err := n.clients(protocols()[0]).cache.Set(context.Background(), connect.NewRequest(&distcachev1.SetRequest{Group: "default", Key: key, Value: []byte(value)}))
	if err != nil {
		t.Fatalf("Set(%q) on %s: %v", key, n.Picker().Self(), err)
	}
}

func TestClusterSetOnOneReadOnOthers(t *testing.T) {
	nodes := startCluster(t, 3, Config{})
	for i := range 20 {
		key := "k" + string(rune('a'+i))
		setOn(t, nodes[i%3], key, "v-"+key)
		owner := ownerOf(t, nodes, key)
		for j, n := range nodes {
			res := getOn(t, n, key)
			want := distcachev1.Source_SOURCE_PEER
			if j == owner {
				want = distcachev1.Source_SOURCE_LOCAL
			}
			if string(res.Value) != "v-"+key || res.Source != want {
				t.Fatalf("Get(%q) on node %d = %q from %v, want v-%s from %v", key, j, res.Value, res.Source, key, want)
			}
		}
	}
	// Only owners hold keys: every key sits in exactly one main store.
	var items int64
	for _, n := range nodes {
		s := n.All()[0].Stats()
		items += s.Items - s.HotItems
	}
	if items != 20 {
		t.Fatalf("%d entries across the owners' stores, want 20", items)
	}
}

func TestClusterMissStormLoadsOnce(t *testing.T) {
	nodes := startCluster(t, 3, Config{})
	var wg sync.WaitGroup
	for i := range 60 {
		wg.Go(func() {
			if res := getOn(t, nodes[i%3], "hello"); string(res.Value) != "world" {
				t.Errorf("Get = %q", res.Value)
			}
		})
	}
	wg.Wait()
	var loads int64
	for _, n := range nodes {
		loads += n.All()[0].Stats().Loads
	}
	if loads != 1 {
		t.Fatalf("60 concurrent misses on 3 nodes caused %d loads, want 1", loads)
	}
}

func TestHotCopiesAreKeptAndInvalidated(t *testing.T) {
	nodes := startCluster(t, 3, Config{})
	key := "hot-key"
	owner := ownerOf(t, nodes, key)
	reader, writer := nodes[(owner+1)%3], nodes[(owner+2)%3]
	setOn(t, nodes[owner], key, "v1")
	for i, want := range []distcachev1.Source{distcachev1.Source_SOURCE_PEER, distcachev1.Source_SOURCE_PEER, distcachev1.Source_SOURCE_HOT} {
		if res := getOn(t, reader, key); res.Source != want {
			t.Fatalf("read %d = %v, want %v (a key read twice becomes a hot copy)", i, res.Source, want)
		}
	}
	setOn(t, writer, key, "v2") // forwarded to the owner, which invalidates every hot copy
	waitUntil(t, "the hot copy to be invalidated", func() bool { return reader.All()[0].Stats().HotItems == 0 })
	if res := getOn(t, reader, key); string(res.Value) != "v2" || res.Source != distcachev1.Source_SOURCE_PEER {
		t.Fatalf("after Set elsewhere: %q from %v, want v2 from the owner", res.Value, res.Source)
	}
}

func TestOwnerDownLoadsLocallyAndMarksSuspect(t *testing.T) {
	nodes := startCluster(t, 3, Config{})
	owner := ownerOf(t, nodes, "hello")
	other := nodes[(owner+1)%3]
	ownerID := nodes[owner].Picker().Self()
	nodes[owner].Stop()
	res := getOn(t, other, "hello")
	if string(res.Value) != "world" || res.Source != distcachev1.Source_SOURCE_LOADER {
		t.Fatalf("Get with the owner down = %q from %v, want world loaded locally", res.Value, res.Source)
	}
	if !other.Picker().SuspectID(ownerID) || other.All()[0].Stats().PeerErrors == 0 {
		t.Fatal("the unreachable owner is not suspect or not counted")
	}
	one := "default"
	stats, err := other.clients(protocols()[3]).admin.GetStats(context.Background(), connect.NewRequest(&distcachev1.GetStatsRequest{Group: &one}))
	if err != nil || stats.Msg.Groups[0].PeerErrors == 0 {
		t.Fatalf("GetStats does not show the peer error: %v, %v", stats, err)
	}
	list, err := other.clients(protocols()[3]).cluster.ListMembers(context.Background(), connect.NewRequest(&distcachev1.ListMembersRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range list.Msg.Members {
		if m.Id == ownerID && m.State != distcachev1.MemberState_MEMBER_STATE_SUSPECT {
			t.Fatalf("ListMembers shows the down owner as %v", m.State)
		}
	}
}

func TestClusterService(t *testing.T) {
	nodes := startCluster(t, 3, Config{})
	c := nodes[1].clients(protocols()[3])
	list, err := c.cluster.ListMembers(context.Background(), connect.NewRequest(&distcachev1.ListMembersRequest{}))
	if err != nil || len(list.Msg.Members) != 3 || list.Msg.Self != "nb" {
		t.Fatalf("ListMembers = %v, %v", list, err)
	}
	for _, key := range []string{"a", "b", "hello", "zzz"} {
		res, err := c.cluster.Owner(context.Background(), connect.NewRequest(&distcachev1.OwnerRequest{Key: key}))
		want, _ := nodes[0].Picker().Ring().Owner(key)
		if err != nil || res.Msg.Owner.Id != want.ID || res.Msg.Owner.Address != want.Addr {
			t.Fatalf("Owner(%q) = %v, %v; want %s", key, res, err, want.ID)
		}
	}
	_, err = c.cluster.Owner(context.Background(), connect.NewRequest(&distcachev1.OwnerRequest{Key: ""}))
	wantCode(t, err, connect.CodeInvalidArgument)
}

// TestTraceCrossesNodes follows one Get from a client through the node it
// reached, the peer call and the owner's load: one trace, parent to child.
func TestTraceCrossesNodes(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	nodes := startCluster(t, 2, Config{TracerProvider: tp})
	key := "hello"
	owner := ownerOf(t, nodes, key)
	getOn(t, nodes[1-owner], key)
	tp.ForceFlush(context.Background())
	spans := rec.Ended()
	byID := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		byID[s.SpanContext().SpanID().String()] = s
	}
	// Walk up from the owner's load to the root.
	var load sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.Name() == "cache.Load" && hasAncestor(byID, s, "distcache.v1.PeerService/Fetch") {
			load = s
		}
	}
	if load == nil {
		t.Fatalf("no cache.Load under the owner's PeerService/Fetch; spans: %v", names(spans))
	}
	var chain []string
	for s := load; s != nil; s = byID[s.Parent().SpanID().String()] {
		chain = append([]string{s.Name()}, chain...)
		if s.SpanContext().TraceID() != load.SpanContext().TraceID() {
			t.Fatal("the chain crosses traces")
		}
	}
	// The receiving node's RPC and cache.Get, its call to the owner (client
	// span, then the owner's server span), and the owner's get and load.
	want := "distcache.v1.CacheService/Get > cache.Get > cache.Fetch > distcache.v1.PeerService/Fetch > distcache.v1.PeerService/Fetch > cache.Get > cache.Load"
	if got := strings.Join(chain, " > "); got != want {
		t.Fatalf("span chain:\n got %s\nwant %s", got, want)
	}
}

func hasAncestor(byID map[string]sdktrace.ReadOnlySpan, s sdktrace.ReadOnlySpan, name string) bool {
	for p := byID[s.Parent().SpanID().String()]; p != nil; p = byID[p.Parent().SpanID().String()] {
		if p.Name() == name {
			return true
		}
	}
	return false
}

func names(spans []sdktrace.ReadOnlySpan) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name())
	}
	return out
}

var _ = cluster.DefaultSuspectFor
