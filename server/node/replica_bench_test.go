package node

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"connectrpc.com/connect"

	distcachev1 "github.com/distcache/distcache/gen/distcache/v1"
	"github.com/distcache/distcache/server/cluster"
)

// replicaGroups is a groups file with the same group kept once and twice.
const replicaGroups = `groups:
  - name: r1
    capacity: 256MiB
    replicas: 1
  - name: r2
    capacity: 256MiB
    replicas: 2
`

func writeGroups(tb testing.TB, body string) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "groups.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

// BenchmarkSetReplicas measures a Set over gRPC (h2c) through one node of
// three, with 8 parallel callers per core, for a group kept on one node
// and one kept on two (acknowledged once both have it). Keys are spread
// over the ring, so two thirds of the Sets are forwarded to their owner.
func BenchmarkSetReplicas(b *testing.B) {
	nodes := startClusterTB(b, 3, Config{ConfigPath: writeGroups(b, replicaGroups)})
	ctx := context.Background()
	c := nodes[0].clients(protocols()[0])
	value := make([]byte, 100)
	for _, group := range []string{"r1", "r2"} {
		b.Run(group, func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(8)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				r := rand.New(rand.NewPCG(rand.Uint64(), 0))
				for pb.Next() {
					req := &distcachev1.SetRequest{Group: group, Key: fmt.Sprintf("k%d", r.IntN(10000)), Value: value}
					if _, err := c.cache.Set(ctx, connect.NewRequest(req)); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// BenchmarkJoinHandoff fills a two-node cluster with keys of a group kept
// twice, lets a third node join, and reports how long the first two take
// to hand the new node its share (their rebalancing runs after the ring
// change, bounded to 50,000 records a second each).
func BenchmarkJoinHandoff(b *testing.B) {
	keys := 100_000
	if testing.Short() {
		keys = 10_000
	}
	for range b.N {
		b.StopTimer()
		cfg := Config{ConfigPath: writeGroups(b, replicaGroups)}
		all := startClusterTB(b, 3, cfg)
		first := all[:2]
		// The first two start as a cluster of two: their rings leave out
		// the third until it "joins".
		two := []cluster.Member{}
		for _, m := range all[0].Picker().Ring().Members() {
			if m.ID != all[2].Picker().Self() {
				two = append(two, m)
			}
		}
		for _, n := range first {
			n.Picker().Update(two)
		}
		c := first[0].clients(protocols()[0])
		ctx := context.Background()
		for i := range keys {
			req := &distcachev1.SetRequest{Group: "r2", Key: fmt.Sprintf("k%d", i), Value: make([]byte, 100)}
			if _, err := c.cache.Set(ctx, connect.NewRequest(req)); err != nil {
				b.Fatal(err)
			}
		}
		before := []int64{first[0].Rebalanced(), first[1].Rebalanced()}
		b.StartTimer()
		start := time.Now()
		for _, n := range first {
			n.Picker().Update(all[2].Picker().Ring().Members())
		}
		deadline := time.Now().Add(2 * time.Minute)
		for first[0].Rebalanced() == before[0] || first[1].Rebalanced() == before[1] {
			if time.Now().After(deadline) {
				b.Fatal("the rebalancing runs did not finish within 2 minutes")
			}
			time.Sleep(time.Millisecond)
		}
		took := time.Since(start)
		b.StopTimer()
		g, _ := all[2].Group("r2")
		s := g.Stats()
		b.ReportMetric(took.Seconds(), "s/join")
		b.ReportMetric(float64(s.Items), "keys-on-new-node")
		b.Logf("%d keys: the join handed %d records to the new node in %v", keys, s.Items, took.Round(time.Millisecond))
		if s.Items == 0 {
			b.Fatal("the new node received nothing")
		}
		for _, n := range all {
			n.Stop()
		}
	}
}
