package node

import (
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/distcache/distcache/internal/childproc"
	"github.com/distcache/distcache/internal/devetcd"
)

// syncBuffer is a goroutine-safe log sink.
type syncBuffer = childproc.Buffer

// startEtcdPair starts an embedded etcd and two nodes, "na" and "nb",
// registered in it with the given virtual nodes per member. It returns the
// nodes and their logs. etcd stops after the nodes when the test ends.
//
// Static peers (--peers) carry no ring parameters (VNodes and Hash are 0,
// unknown, hence compatible), so only etcd records can be refused.
func startEtcdPair(t *testing.T, vnodes [2]int) ([2]*testNode, [2]*syncBuffer) {
	t.Helper()
	etcd, err := devetcd.Start(t.TempDir(), "127.0.0.1:0", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(etcd.Close)
	db := filepath.Join(t.TempDir(), "shared.db")
	var nodes [2]*testNode
	var logs [2]*syncBuffer
	for i := range nodes {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		logs[i] = &syncBuffer{}
		nodes[i] = startNodeOn(t, Config{
			DBPath: db,
			Logger: slog.New(slog.NewTextHandler(logs[i], nil)),
			Cluster: ClusterConfig{
				NodeID: "n" + string(rune('a'+i)), Advertise: ln.Addr().String(),
				Etcd: []string{etcd.Endpoint}, Replicas: vnodes[i], SharedDB: true, Secret: "s",
			},
		}, ln)
	}
	return nodes, logs
}

func ringIDs(n *testNode) []string {
	var ids []string
	for _, m := range n.Picker().Ring().Members() {
		ids = append(ids, m.ID)
	}
	return ids
}

// TestRingParametersMustMatch: two nodes whose --replicas differ would
// disagree on every key's owner; each refuses the other, says so in its
// log, and keeps it out of its ring.
func TestRingParametersMustMatch(t *testing.T) {
	nodes, logs := startEtcdPair(t, [2]int{160, 100})
	const refusal = "refusing a member: its ring parameters differ"
	for i, n := range nodes {
		other := nodes[1-i].Picker().Self()
		waitUntil(t, n.Picker().Self()+" to refuse "+other, func() bool {
			return strings.Contains(logs[i].String(), refusal)
		})
		line := grepLines([]byte(logs[i].String()), refusal)
		for _, w := range []string{"member=" + other, "--replicas", "160", "100"} {
			if !strings.Contains(line, w) {
				t.Errorf("node %s logged %q, want it to name %q", n.Picker().Self(), line, w)
			}
		}
		if ids := ringIDs(n); len(ids) != 1 || ids[0] != n.Picker().Self() {
			t.Errorf("node %s's ring = %v, want only itself", n.Picker().Self(), ids)
		}
		if c := strings.Count(logs[i].String(), refusal); c != 1 {
			t.Errorf("node %s logged the refusal %d times, want once", n.Picker().Self(), c)
		}
	}
}

// TestRingParametersMatchJoins is the control for
// TestRingParametersMustMatch: with equal --replicas the same two nodes
// see each other through etcd, and neither refuses.
func TestRingParametersMatchJoins(t *testing.T) {
	nodes, logs := startEtcdPair(t, [2]int{100, 100})
	for i, n := range nodes {
		waitUntil(t, "node "+n.Picker().Self()+"'s ring to hold both nodes", func() bool { return n.Picker().Ring().Len() == 2 })
		if strings.Contains(logs[i].String(), "refusing a member") {
			t.Errorf("node %s refused a member with equal parameters:\n%s", n.Picker().Self(), logs[i])
		}
		if r := n.Picker().Ring().Replicas(); r != 100 {
			t.Errorf("node %s's ring has %d virtual nodes per member, want 100", n.Picker().Self(), r)
		}
	}
}
