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
