package cache

import "time"

func (g *Group) sweepLoop(every time.Duration) {
	defer close(g.done)
	if every <= 0 {
		<-g.stop
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-g.stop:
			return
		case <-t.C:
			g.Sweep()
		}
	}
}

// Sweep removes every expired entry now and returns how many it removed.
// The group runs it in the background (see [WithSweepInterval]); expired
// entries are never returned even before they are swept.
func (g *Group) Sweep() int {
	now := g.now().UnixNano()
	var expired []uint64
	g.store.each(func(e *entry) {
		if e.expired(now) {
			expired = append(expired, g.store.hash(e.key()))
		}
	})
	if len(expired) == 0 {
		return 0
	}
	g.pmu.Lock()
	defer g.pmu.Unlock()
	n := 0
	for _, h := range expired {
		// Recheck: a Set may have replaced the entry since the scan.
		if e := g.store.peek(h); e != nil && e.expired(now) {
			g.store.remove(h)
			g.rules.Removed(h)
			n++
		}
	}
	g.expirations.Add(int64(n))
	g.flushLocked()
	return n
}
