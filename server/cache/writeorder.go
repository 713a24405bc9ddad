package cache

import "context"

// writeStripes is how many locks a write-through group orders its writes
// with; writes of keys on different stripes run (and group-commit) at
// once.
const writeStripes = 256

// writeLocks orders the writes of each key of a write-through group: each
// stripe is a lock (a channel of one token, so that waiting for it heeds
// the caller's context).
type writeLocks []chan struct{}

func newWriteLocks() writeLocks {
	w := make(writeLocks, writeStripes)
	for i := range w {
		w[i] = make(chan struct{}, 1)
	}
	return w
}

// writeThrough runs write (the source's) under key's stripe lock and takes
// the record's version before it lets go. Of two writes of one key, the
// one the source applied last thus gets the higher version, and the
// stores, which keep the higher, end up agreeing with the source. Without
// it, concurrent Sets of a key committed in one order to the source could
// take their versions in the other, and the cache would serve a value the
// source no longer holds.
func (g *Group) writeThrough(ctx context.Context, key string, write func() error) (uint64, error) {
	lock := g.wlocks[g.store.hash(key)%writeStripes]
	select {
	case lock <- struct{}{}:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	defer func() { <-lock }()
	if err := write(); err != nil {
		return 0, err
	}
	return g.clock.next(), nil
}
