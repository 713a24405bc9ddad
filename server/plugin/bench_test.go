package plugin

import (
	"context"
	"testing"

	"github.com/distcache/distcache/server/cache"
)

func benchPolicy(b *testing.B, capacity int64) *Policy {
	b.Helper()
	rt := newTestRuntime(b, Config{})
	m, err := rt.Compile(context.Background(), "lru", buildWasm(b, "policy/lru"))
	if err != nil {
		b.Fatal(err)
	}
	p, err := m.NewPolicy(context.Background(), capacity)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Close() })
	return p
}

// BenchmarkPolicyMiss is the cost of one miss under pressure: one insert
// event and one call for a victim, as the cache makes on every insert into
// a full group.
func BenchmarkPolicyMiss(b *testing.B) {
	p := benchPolicy(b, 1000)
	ev := []cache.Event{{Op: cache.OpInsert, Cost: 1}}
	var dst []uint64
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		ev[0].Hash = uint64(i)
		p.Apply(ev)
		dst = p.Evict(1, dst[:0])
	}
}

// BenchmarkPolicyEvents measures access events per second through the
// batch ABI: 1024 events per guest call.
func BenchmarkPolicyEvents(b *testing.B) {
	const resident = 10000
	p := benchPolicy(b, resident)
	batch := make([]cache.Event, maxEvents)
	for i := range resident {
		p.Apply([]cache.Event{{Op: cache.OpInsert, Hash: uint64(i), Cost: 1}})
	}
	b.ReportAllocs()
	var n int
	for b.Loop() {
		for j := range batch {
			batch[j] = cache.Event{Op: cache.OpAccess, Hash: uint64((n*7919 + j) % resident)}
		}
		n++
		p.Apply(batch)
		p.Evict(0, nil) // flush
	}
	b.ReportMetric(float64(b.N*maxEvents)/b.Elapsed().Seconds(), "events/s")
}
