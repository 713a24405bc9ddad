package main

import (
	"fmt"
	"os"
	"testing"

	"github.com/distcache/distcache/internal/trace"
	"github.com/distcache/distcache/sdk/policy"
	scache "github.com/distcache/distcache/server/cache"
)

type zzAdapter struct {
	p   *WTinyLFU
	buf []policy.Event
}

func (a *zzAdapter) Apply(evs []scache.Event) {
	a.buf = a.buf[:0]
	for _, e := range evs {
		a.buf = append(a.buf, policy.Event{Op: policy.Op(e.Op), Hash: e.Hash, Cost: e.Cost})
	}
	a.p.Apply(a.buf)
}
func (a *zzAdapter) Evict(need int64, dst []uint64) []uint64 { return a.p.Evict(need, dst) }

func zzRatio(f func(trace.Reader, int) (int64, int64, error), keys []uint64, c int) float64 {
	h, t, _ := f(trace.Slice(keys), c)
	return float64(h) / float64(t)
}

func zzMine(keys []uint64, c int) float64 {
	return zzRatio(func(r trace.Reader, c int) (int64, int64, error) {
		return trace.Replay(&zzAdapter{p: New(int64(c))}, r, c)
	}, keys, c)
}

func TestZZTune(t *testing.T) {
	if os.Getenv("ZZ") == "" {
		t.Skip()
	}
	type tr struct {
		name string
		keys []uint64
	}
	var trs []tr
	for _, s := range []float64{0.8, 1.0, 1.2} {
		for _, seed := range []uint64{7, 1, 2} {
			k, _ := trace.Collect(trace.Zipf(500_000, 100_000, s, seed))
			trs = append(trs, tr{fmt.Sprintf("zipf s=%.1f seed=%d", s, seed), k})
		}
	}
	loop, _ := trace.Collect(trace.Loop(60_000, 1500))
	for _, c := range []int{100, 1000, 10000} {
		for _, x := range trs {
			m := zzMine(x.keys, c)
			var o float64
			for range 3 {
				o += zzRatio(trace.ReplayOtter, x.keys, c)
			}
			o /= 3
			fmt.Printf("%-22s c=%-6d ours %.4f otter %.4f diff %+.4f lru %.4f arc %.4f\n", x.name, c, m, o, m-o,
				zzRatio(trace.ReplayLRU, x.keys, c), zzRatio(trace.ReplayARC, x.keys, c))
		}
	}
	fmt.Printf("loop 1500 c=1000 ours %.4f otter %.4f lru %.4f arc %.4f\n", zzMine(loop, 1000), zzRatio(trace.ReplayOtter, loop, 1000),
		zzRatio(trace.ReplayLRU, loop, 1000), zzRatio(trace.ReplayARC, loop, 1000))
}
