package plugin

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"testing"

	"github.com/distcache/distcache/internal/trace"
	"github.com/distcache/distcache/sdk/policy"
	"github.com/distcache/distcache/sdk/policy/policytest"
	"github.com/distcache/distcache/server/cache"
	"github.com/distcache/distcache/server/plugin/builtin"
)

// TestOfflineHitsAreTheNodes: every built-in policy gets the same hits on
// a trace whether the replay tool (trace.Replay), policytest's Sim or a
// cache group drives it, since all three follow the host's eviction rules
// (sdk/policy/evict). The group hashes keys with its own seed, so an
// adapter renames its hashes to the trace's before the policy sees them
// (and back for victims): the policy decides on the same numbers.
func TestOfflineHitsAreTheNodes(t *testing.T) {
	keys, err := trace.Collect(trace.ParseARC(strings.NewReader(arcTrace(8_000, 3))))
	if err != nil {
		t.Fatal(err)
	}
	const capacity = 600
	rt := newTestRuntime(t, Config{})
	ctx := context.Background()
	names, err := fs.Glob(builtin.FS(), "*.wasm.gz")
	if err != nil {
		t.Fatal(err)
	}
	policies := 0
	for _, file := range names {
		mod, err := rt.Compile(ctx, strings.TrimSuffix(file, ".wasm.gz"), gunzipBuiltin(t, file))
		if err != nil {
			t.Fatal(err)
		}
		if mod.Kind() != KindPolicy {
			mod.Close(ctx)
			continue
		}
		policies++
		t.Run(mod.Name(), func(t *testing.T) {
			defer mod.Close(ctx)
			instance := func(capacity int64) *Policy {
				p, err := mod.NewPolicy(ctx, capacity)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() {
					if err := p.Err(); err != nil {
						t.Errorf("instance failed: %v", err)
					}
					p.Close()
				})
				return p
			}

			replayHits, _, err := trace.Replay(instance(capacity), trace.Slice(keys), capacity)
			if err != nil {
				t.Fatal(err)
			}

			sim := policytest.NewSim(instance(capacity), capacity)
			for _, k := range keys {
				sim.Get(trace.Mix(k), 1)
			}
			simHits := int64(sim.Stats().Hits)

			// Keys of one length and empty values: every entry costs the
			// same, so the group holds capacity entries, as the others do.
			key := func(k uint64) string { return fmt.Sprintf("%016x", k) }
			cost := int64(16 + cache.EntryOverhead)
			ad := &renamer{to: map[uint64]uint64{}, from: map[uint64]uint64{}}
			ad.p = instance(capacity * cost)
			g, err := cache.NewGroup(cache.Config{
				Name:     "offline",
				Capacity: capacity * cost,
				Policy:   ad,
				Loader: cache.LoaderFunc(func(context.Context, string) (cache.Loaded, error) {
					return cache.Loaded{Value: []byte{}}, nil
				}),
			})
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			seen := map[uint64]bool{}
			for _, k := range keys {
				if !seen[k] {
					seen[k] = true
					ad.fresh = append(ad.fresh, trace.Mix(k))
				}
				if _, err := g.Get(ctx, key(k)); err != nil {
					t.Fatal(err)
				}
			}
			st := g.Stats()
			t.Logf("%d requests: replay %d hits, policytest %d, group %d (%d evictions, %d fallbacks)",
				len(keys), replayHits, simHits, st.Hits, st.Evictions, st.Fallbacks)
			if st.Evictions == 0 || st.Fallbacks != 0 {
				t.Errorf("group: %d evictions, %d fallbacks; want evictions and no fallback", st.Evictions, st.Fallbacks)
			}
			if simHits != replayHits || st.Hits != replayHits {
				t.Errorf("hits differ: replay %d, policytest %d, group %d", replayHits, simHits, st.Hits)
			}
		})
	}
	if policies < 5 {
		t.Fatalf("%d built-in policies, want at least 5", policies)
	}
}

// renamer stands between a group and a policy and renames the group's
// hashes to the trace's. Hashes it has not seen yet are the keys read for
// the first time, in the order they were read (fresh): events reach the
// policy in batches, some after several reads.
type renamer struct {
	p        policy.Policy
	fresh    []uint64
	to, from map[uint64]uint64 // group hash -> trace hash, and back
	buf      []policy.Event
}

func (r *renamer) Apply(events []policy.Event) {
	r.buf = r.buf[:0]
	for _, ev := range events {
		h, ok := r.to[ev.Hash]
		if !ok {
			h, r.fresh = r.fresh[0], r.fresh[1:]
			r.to[ev.Hash], r.from[h] = h, ev.Hash
		}
		ev.Hash = h
		r.buf = append(r.buf, ev)
	}
	r.p.Apply(r.buf)
}

func (r *renamer) Evict(need int64, dst []uint64) []uint64 {
	n := len(dst)
	dst = r.p.Evict(need, dst)
	for i := n; i < len(dst); i++ {
		dst[i] = r.from[dst[i]]
	}
	return dst
}

// gunzipBuiltin returns the built-in plugin file, decompressed.
func gunzipBuiltin(t *testing.T, file string) []byte {
	t.Helper()
	gz, err := fs.ReadFile(builtin.FS(), file)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	wasm, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return wasm
}
