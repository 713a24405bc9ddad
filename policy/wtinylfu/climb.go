package main

import "github.com/distcache/distcache/sdk/policy/hashlist"

const (
	// restartThreshold is the change of hit rate that restarts the climb
	// with a full step.
	restartThreshold = 0.05
	// stepPercent is the full step, as a share of the capacity.
	stepPercent = 0.0625
	// stepDecay is how much the step shrinks per sample otherwise.
	stepDecay = 0.98
	// transferLimit bounds the entries moved between segments per climb.
	transferLimit = 1000
	// minSample is the fewest requests a sample has, whatever the
	// capacity. Caffeine samples ten requests per entry, which for a small
	// cache is too few to tell two hit rates apart: at 1,000 requests the
	// standard error of the difference of two samples is about 0.02, more
	// than moving the window by a step changes the hit rate, so the climber
	// follows noise and the window drifts away from where it belongs (on
	// Zipf traces at 100 entries, 0.01–0.03 fewer hits than with a fixed
	// 1% window). At 4,096 requests that error is about 0.011. A larger
	// floor steadies the climber further but makes it slower to follow a
	// change: with 8,192 it lost 1 point against 4,096 on a loop of 1,000
	// keys at 500 entries and 0.6 on the LIRS loop trace at 500; with
	// 2,048 it lost 1.4 on the LIRS loop at 250 and 0.5 on Zipf 1.2 at 100.
	minSample = 1 << 12
)

// climber is Caffeine's hill climber: it samples the hit rate and decides
// how many bytes to move between the window and main.
type climber struct {
	stepSize     float64
	adjustment   int64 // bytes to grow (>0) or shrink (<0) the window by
	hits, misses uint64
	prevHitRate  float64
}

// restart starts the climb over for a capacity of maximum bytes, first
// shrinking the window.
func (c *climber) restart(maximum int64) {
	*c = climber{stepSize: -stepPercent * float64(maximum)}
}

// climb adapts the window to the last sample, and demotes protected's
// excess to probation.
func (p *WTinyLFU) climb() {
	p.determineAdjustment()
	p.demoteFromProtected()
	switch {
	case p.climber.adjustment > 0:
		p.increaseWindow()
	case p.climber.adjustment < 0:
		p.decreaseWindow()
	}
}

func (p *WTinyLFU) determineAdjustment() {
	c := &p.climber
	if !p.sketch.ready() {
		c.prevHitRate, c.hits, c.misses = 0, 0, 0
		return
	}
	requests := c.hits + c.misses
	if requests < max(p.sketch.sampleSize, minSample) {
		return
	}
	if p.size() < p.maximum>>1 {
		// Not evicting: the hit rate says nothing of the split.
		c.hits, c.misses = 0, 0
		return
	}
	hitRate := float64(c.hits) / float64(requests)
	change := hitRate - c.prevHitRate
	amount := c.stepSize
	if change < 0 {
		amount = -c.stepSize
	}
	if change >= restartThreshold || change <= -restartThreshold {
		c.stepSize = stepPercent * float64(p.maximum)
		if amount < 0 {
			c.stepSize = -c.stepSize
		}
	} else {
		c.stepSize = stepDecay * amount
	}
	c.prevHitRate = hitRate
	c.adjustment = int64(amount)
	c.hits, c.misses = 0, 0
}

// demoteFromProtected moves protected's LRU entries to probation's MRU end
// until protected fits its share.
func (p *WTinyLFU) demoteFromProtected() {
	for i := 0; i < transferLimit && p.lists[protected].Cost() > p.protectedMaximum; i++ {
		p.move(p.lists[protected].Oldest(), protected, probation)
	}
}

// increaseWindow moves up to adjustment bytes of share, and main's LRU
// entries with it, from main to the window.
func (p *WTinyLFU) increaseWindow() {
	if p.protectedMaximum == 0 {
		return
	}
	quota := min(p.climber.adjustment, p.protectedMaximum)
	p.protectedMaximum -= quota
	p.windowMaximum += quota
	p.demoteFromProtected()
	for range transferLimit {
		from := uint32(probation)
		r := p.lists[probation].Oldest()
		if r == hashlist.Nil || quota < p.a.Cost(r) {
			from, r = protected, p.lists[protected].Oldest()
		}
		if r == hashlist.Nil || quota < p.a.Cost(r) {
			break
		}
		quota -= p.a.Cost(r)
		p.move(r, from, window)
	}
	p.protectedMaximum += quota
	p.windowMaximum -= quota
	p.climber.adjustment = quota
}

// decreaseWindow moves up to -adjustment bytes of share, and the window's
// LRU entries with it, from the window to main.
func (p *WTinyLFU) decreaseWindow() {
	if p.windowMaximum <= 1 {
		return
	}
	quota := min(-p.climber.adjustment, max(0, p.windowMaximum-1))
	p.protectedMaximum += quota
	p.windowMaximum -= quota
	for range transferLimit {
		r := p.lists[window].Oldest()
		if r == hashlist.Nil || quota < p.a.Cost(r) {
			break
		}
		quota -= p.a.Cost(r)
		p.move(r, window, probation)
	}
	p.protectedMaximum -= quota
	p.windowMaximum += quota
	p.climber.adjustment = -quota
}
