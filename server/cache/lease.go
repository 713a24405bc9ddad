package cache

import (
	"sync"
	"time"
)

// DefaultHotLease is how long a node may serve a hot copy of a key it
// fetched from the owner, counted from when it asked. The owner revokes
// the lease before it acknowledges a write of the key; a holder it cannot
// reach delays that write until the lease has run out, so the lease bounds
// how long a frozen holder can hold up writes.
const DefaultHotLease = time.Second

// maxLeasedKeys bounds the keys an owner tracks leases for; past it, new
// fetches get no lease (their readers keep no hot copy).
const maxLeasedKeys = 1 << 16

// leases is an owner's record of which nodes may serve hot copies of
// which keys, and until when. It is safe for concurrent use.
type leases struct {
	mu      sync.Mutex
	m       map[string][]lease
	writing map[string]int // keys with a write in progress: no new leases
}

type lease struct {
	holder string
	until  time.Time
}

// grant records that holder may serve key until now+d, and returns d, or
// 0 when the table is full.
func (l *leases) grant(key, holder string, now time.Time, d time.Duration) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[string][]lease{}
	}
	if l.writing[key] > 0 {
		return 0
	}
	ls, ok := l.m[key]
	if !ok && len(l.m) >= maxLeasedKeys {
		return 0
	}
	until := now.Add(d)
	for i := range ls {
		if ls[i].holder == holder {
			ls[i].until = until
			return d
		}
	}
	l.m[key] = append(ls, lease{holder: holder, until: until})
	return d
}

// beginWrite forgets key's leases, grants none until endWrite, and returns
// the holders whose leases had not run out at now, and when the last of
// them runs out. An owner revokes the leases before its store shows the
// new value, so no node serves the old value once any node served the new.
func (l *leases) beginWrite(key string, now time.Time) (holders []string, until time.Time) {
	l.mu.Lock()
	if l.writing == nil {
		l.writing = map[string]int{}
	}
	l.writing[key]++
	ls := l.m[key]
	delete(l.m, key)
	l.mu.Unlock()
	for _, x := range ls {
		if x.until.After(now) {
			holders = append(holders, x.holder)
			if x.until.After(until) {
				until = x.until
			}
		}
	}
	return holders, until
}

// endWrite ends what beginWrite began.
func (l *leases) endWrite(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.writing[key]--; l.writing[key] <= 0 {
		delete(l.writing, key)
	}
}

// sweep forgets leases that ran out before now.
func (l *leases) sweep(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for key, ls := range l.m {
		live := ls[:0]
		for _, x := range ls {
			if x.until.After(now) {
				live = append(live, x)
			}
		}
		if len(live) == 0 {
			delete(l.m, key)
		} else {
			l.m[key] = live
		}
	}
}
