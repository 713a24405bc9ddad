package plugin

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/distcache/distcache/server/cache"
	"github.com/distcache/distcache/server/source"
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

// BenchmarkGroupHit is the cache's parallel hit path with the WASM LRU
// and with the native LRU; the ratio of the two is the plugin's cost.
func BenchmarkGroupHit(b *testing.B) {
	for _, kind := range []string{"native", "wasm"} {
		b.Run(kind, func(b *testing.B) {
			var pol cache.Policy = cache.NewLRU()
			if kind == "wasm" {
				pol = benchPolicy(b, 64<<20)
			}
			g, err := cache.NewGroup(cache.Config{Name: "b", Capacity: 64 << 20, Policy: pol})
			if err != nil {
				b.Fatal(err)
			}
			defer g.Close()
			keys := make([]string, 10_000)
			for i := range keys {
				keys[i] = fmt.Sprintf("key-%d", i)
				if err := g.Set(context.Background(), keys[i], []byte("value"), 0); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				r := rand.New(rand.NewPCG(rand.Uint64(), 0))
				for pb.Next() {
					if _, err := g.Get(context.Background(), keys[r.IntN(len(keys))]); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// BenchmarkLoaderCall is one warm loader call: the WASM loader against a
// native one, with no source behind either (the call's own cost), and the
// sqlkv plugin against the native SQLite loader doing the same query.
func BenchmarkLoaderCall(b *testing.B) {
	db, err := source.Open(context.Background(), filepath.Join(b.TempDir(), "b.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ro, err := db.ReadOnly()
	if err != nil {
		b.Fatal(err)
	}
	defer ro.Close()
	rt := newTestRuntime(b, Config{DB: ro})
	wasmLoader := func(pkg string) cache.Loader {
		m, err := rt.Compile(context.Background(), "l", buildWasm(b, pkg))
		if err != nil {
			b.Fatal(err)
		}
		l, err := m.NewLoader("g", LoaderConfig{})
		if err != nil {
			b.Fatal(err)
		}
		return l
	}
	table, err := db.Table(context.Background(), source.DefaultTableConfig(), false)
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		l    cache.Loader
		key  string
	}{
		{"native-func", cache.LoaderFunc(func(_ context.Context, k string) (cache.Loaded, error) {
			return cache.Loaded{Value: []byte("raw:" + k)}, nil
		}), "k"},
		{"wasm-raw", wasmLoader("server/plugin/testdata/rawloader"), "k"},
		{"native-sqlite", table, "hello"},
		{"wasm-sqlkv", wasmLoader("loader/sqlkv"), "hello"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := tc.l.Load(context.Background(), tc.key); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCompile is compiling the Go LRU module cold and again from the
// on-disk compilation cache (what a restart pays).
func BenchmarkCompile(b *testing.B) {
	wasm := buildWasm(b, "policy/lru")
	for _, cached := range []bool{false, true} {
		name := map[bool]string{false: "cold", true: "cached"}[cached]
		b.Run(name, func(b *testing.B) {
			dir := b.TempDir()
			if cached {
				warm, err := NewRuntime(context.Background(), Config{CacheDir: dir})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := warm.Compile(context.Background(), "lru", wasm); err != nil {
					b.Fatal(err)
				}
				warm.Close(context.Background())
			}
			for b.Loop() {
				cfg := Config{}
				if cached {
					cfg.CacheDir = dir
				}
				rt, err := NewRuntime(context.Background(), cfg)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := rt.Compile(context.Background(), "lru", wasm); err != nil {
					b.Fatal(err)
				}
				rt.Close(context.Background())
			}
		})
	}
}
