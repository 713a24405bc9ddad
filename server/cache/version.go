package cache

import (
	"sync/atomic"
	"time"
)

// versionClock hands out the versions of writes: hybrid logical clock
// values, the wall clock in nanoseconds or one more than the last version
// handed out or seen, whichever is larger. So versions grow on one node
// even when its clock steps back, and a node that received a record
// writes later versions than it.
type versionClock struct {
	last atomic.Uint64
}

// next returns a version larger than every one returned or observed.
func (c *versionClock) next() uint64 {
	for {
		last := c.last.Load()
		v := max(uint64(time.Now().UnixNano()), last+1)
		if c.last.CompareAndSwap(last, v) {
			return v
		}
	}
}

// observe makes later versions larger than v.
func (c *versionClock) observe(v uint64) {
	for {
		last := c.last.Load()
		if v <= last || c.last.CompareAndSwap(last, v) {
			return
		}
	}
}
