package cache

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// BenchmarkGroupGetHit measures the parallel hit path over 10,000 resident
// keys: hash, shard read lock, expiry check, buffered access.
func BenchmarkGroupGetHit(b *testing.B) {
	for _, ttl := range []struct {
		name string
		ttl  int64
	}{{"no-ttl", 0}, {"ttl", 3600e9}} {
		b.Run(ttl.name, func(b *testing.B) {
			g := newGroup(b, Config{Capacity: 64 << 20, TTL: 0})
			keys := make([]string, 10_000)
			for i := range keys {
				keys[i] = fmt.Sprintf("key-%d", i)
				if err := g.Set(context.Background(), keys[i], []byte("value"), time.Duration(ttl.ttl)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				r := rand.New(rand.NewPCG(rand.Uint64(), 0))
				ctx := context.Background()
				for pb.Next() {
					if _, err := g.Get(ctx, keys[r.IntN(len(keys))]); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// BenchmarkGroupSet measures inserts with evictions (capacity holds about
// a tenth of the keys).
func BenchmarkGroupSet(b *testing.B) {
	g := newGroup(b, Config{Capacity: 1000 * entryCost("key-00000", make([]byte, 100))})
	keys := make([]string, 10_000)
	for i := range keys {
		keys[i] = fmt.Sprintf("key-%05d", i)
	}
	value := make([]byte, 100)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := rand.New(rand.NewPCG(rand.Uint64(), 0))
		for pb.Next() {
			g.Set(context.Background(), keys[r.IntN(len(keys))], value, 0)
		}
	})
}
