package node

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"connectrpc.com/connect"

	distcachev1 "github.com/distcache/distcache/gen/distcache/v1"
)

// BenchmarkConnectGet measures a Get hit over loopback with parallel
// clients, per protocol: gRPC over h2c (the peer protocol) and Connect
// binary over HTTP/1.1. Allocation counts include client and server.
func BenchmarkConnectGet(b *testing.B) {
	n := startNode(b, Config{})
	ctx := context.Background()
	keys := make([]string, 1000)
	setup := n.clients(protocols()[2])
	for i := range keys {
		keys[i] = fmt.Sprintf("bench-%d", i)
		req := &distcachev1.SetRequest{Group: "default", Key: keys[i], Value: make([]byte, 100)}
		if _, err := setup.cache.Set(ctx, connect.NewRequest(req)); err != nil {
			b.Fatal(err)
		}
	}
	for _, p := range []protocol{protocols()[0], protocols()[2]} {
		b.Run(p.name, func(b *testing.B) {
			c := n.clients(p)
			b.ReportAllocs()
			b.SetParallelism(8) // 8 concurrent clients per core
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				r := rand.New(rand.NewPCG(rand.Uint64(), 0))
				for pb.Next() {
					req := connect.NewRequest(&distcachev1.GetRequest{Group: "default", Key: keys[r.IntN(len(keys))]})
					if _, err := c.cache.Get(ctx, req); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// BenchmarkPeerHop compares what a node pays for a value it holds (a hit
// in its own group) with what it pays to fetch one from the key's owner (a
// gRPC call over h2c on loopback, answered from the owner's store), with
// parallel callers.
func BenchmarkPeerHop(b *testing.B) {
	nodes := startClusterB(b, 2)
	ctx := context.Background()
	var local, remote []string
	for i := 0; len(local) < 200 || len(remote) < 200; i++ {
		key := fmt.Sprintf("bench-%d", i)
		if _, err := nodes[0].clients(protocols()[2]).cache.Set(ctx, connect.NewRequest(&distcachev1.SetRequest{Group: "default", Key: key, Value: make([]byte, 100)})); err != nil {
			b.Fatal(err)
		}
		if m, _ := nodes[0].Picker().Ring().Owner(key); m.ID == nodes[0].Picker().Self() {
			local = append(local, key)
		} else {
			remote = append(remote, key)
		}
	}
	g := nodes[0].All()[0]
	for _, tc := range []struct {
		name string
		keys []string
		get  func(key string) error
	}{
		{"local-hit", local, func(key string) error { _, err := g.GetLocal(ctx, key); return err }},
		{"peer-fetch", remote, func(key string) error {
			peer, ok := nodes[0].Picker().Pick(key)
			if !ok {
				return fmt.Errorf("no peer owns %s", key)
			}
			_, _, err := peer.Fetch(ctx, "default", key, "")
			return err
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(8)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				r := rand.New(rand.NewPCG(rand.Uint64(), 0))
				for pb.Next() {
					if err := tc.get(tc.keys[r.IntN(len(tc.keys))]); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
