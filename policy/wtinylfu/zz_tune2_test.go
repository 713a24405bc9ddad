package main

import (
	"fmt"
	"os"
	"testing"

	"github.com/distcache/distcache/internal/trace"
	"github.com/distcache/distcache/sdk/policy"
	scache "github.com/distcache/distcache/server/cache"
)

type zzSeeded struct {
	zzAdapter
	seed uint64
}

func (a *zzSeeded) Apply(evs []scache.Event) {
	a.buf = a.buf[:0]
	for _, e := range evs {
		a.buf = append(a.buf, policy.Event{Op: policy.Op(e.Op), Hash: e.Hash ^ a.seed, Cost: e.Cost})
	}
	a.p.Apply(a.buf)
}
func (a *zzSeeded) Evict(need int64, dst []uint64) []uint64 {
	n := len(dst)
	dst = a.p.Evict(need, dst)
	for i := n; i < len(dst); i++ {
		dst[i] ^= a.seed
	}
	return dst
}

func zzMineSeed(keys []uint64, c int, seed uint64, tweak func(*WTinyLFU)) (float64, *WTinyLFU) {
	p := New(int64(c))
	if tweak != nil {
		tweak(p)
	}
	h, t, _ := trace.Replay(&zzSeeded{zzAdapter{p: p}, trace.Mix(seed)}, trace.Slice(keys), c)
	return float64(h) / float64(t), p
}

var zzTweaks = map[string]func(*WTinyLFU){
	"base":    nil,
	"noclimb": func(p *WTinyLFU) { p.climber.stepSize = 0 },
}

func TestZZSeeds(t *testing.T) {
	if os.Getenv("ZZ2") == "" {
		t.Skip()
	}
	const nseeds = 8
	for _, s := range []float64{0.8, 1.0, 1.2} {
		for _, c := range []int{100, 1000, 10000} {
			keys, _ := trace.Collect(trace.Zipf(500_000, 100_000, s, 7))
			var o float64
			for range nseeds {
				o += zzRatio(trace.ReplayOtter, keys, c)
			}
			o /= nseeds
			line := fmt.Sprintf("s=%.1f c=%-5d otter %.4f", s, c, o)
			for _, name := range []string{"base", "noclimb"} {
				var m, lo float64 = 0, 1
				var wsum int64
				for seed := range uint64(nseeds) {
					r, p := zzMineSeed(keys, c, seed, zzTweaks[name])
					m += r
					lo = min(lo, r)
					wsum += p.windowMaximum
				}
				line += fmt.Sprintf(" | %s %.4f (min %.4f, win %d)", name, m/nseeds, lo, wsum/nseeds)
			}
			fmt.Println(line)
		}
	}
}

func TestZZKnobs(t *testing.T) {
	if os.Getenv("ZZ3") == "" {
		t.Skip()
	}
	const nseeds = 6
	type knob struct {
		name string
		set  func()
	}
	reset := func() { zzSketchScale, zzSampleScale, zzClimbOff, zzTol, zzMinSample = 1, 10, false, 0, 0 }
	knobs := []knob{
		{"base", func() {}},
		{"noclimb", func() { zzClimbOff = true }},
		{"t1", func() { zzTol = 1 }},
		{"t2", func() { zzTol = 2 }},
		{"m16k", func() { zzMinSample = 1 << 14 }},
		{"t1m16k", func() { zzTol = 1; zzMinSample = 1 << 14 }},
		{"t2m8k", func() { zzTol = 2; zzMinSample = 1 << 13 }},
	}
	for _, s := range []float64{0.8, 1.0, 1.2} {
		for _, c := range []int{100, 1000, 10000} {
			keys, _ := trace.Collect(trace.Zipf(500_000, 100_000, s, 7))
			var o float64
			for range nseeds {
				o += zzRatio(trace.ReplayOtter, keys, c)
			}
			o /= nseeds
			line := fmt.Sprintf("s=%.1f c=%-5d otter %.4f", s, c, o)
			for _, k := range knobs {
				reset()
				k.set()
				var m, lo float64 = 0, 1
				for seed := range uint64(nseeds) {
					r, _ := zzMineSeed(keys, c, seed, nil)
					m += r
					lo = min(lo, r)
				}
				line += fmt.Sprintf(" | %s %+.4f/%+.4f", k.name, m/nseeds-o, lo-o)
			}
			fmt.Println(line)
		}
	}
	loop, _ := trace.Collect(trace.Loop(60_000, 1500))
	line := "loop"
	for _, k := range knobs {
		reset()
		k.set()
		r, _ := zzMineSeed(loop, 1000, 0, nil)
		line += fmt.Sprintf(" | %s %.4f", k.name, r)
	}
	fmt.Println(line)
	reset()
}
