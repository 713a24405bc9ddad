package trace

import (
	"errors"

	"github.com/distcache/distcache/server/cache"
)

// maxBatch is the most events [Replay] hands to Policy.Apply at once, as a
// group's write batch and the plugin ABI's max_events.
const maxBatch = 1024

// Mix is the splitmix64 finalizer, a bijection, so distinct keys never
// share a hash. [Replay] names keys to policies by Mix(key).
func Mix(key uint64) uint64 {
	z := key + 0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// Replay drives p through the trace r the way a cache group does, with a
// cost of 1 per entry, so capacity counts entries. A hit sends an OpAccess;
// a miss sends an OpInsert and, when the cache is full, asks p to Evict and
// removes the victims it names; if p names the newcomer, it is not
// admitted. Events are lossless (unlike a group's read buffer), applied in
// order in batches of at most 1024, and always before an Evict, so two
// policies with the same logic give the same hits.
//
// Like a group, Replay ignores victims it does not hold, and when p names
// none it does hold, it evicts a resident entry itself (and sends p an
// OpRemove), so the cache never exceeds capacity.
//
// It returns the hits and requests counted, and r's error. The policy is
// used, not closed.
func Replay(p cache.Policy, r Reader, capacity int) (hits, total int64, err error) {
	return replay(p, r, int64(capacity), nil)
}

// ReplaySized is [Replay] with object sizes: capacity is in bytes and each
// insert costs the object's size as r gives it at that request (a size of
// 0 costs 1); a hit does not resize a resident. An object larger than
// capacity is served but not kept, as a group does: p hears nothing of it.
func ReplaySized(p cache.Policy, r Sized, capacity int64) (hits, total int64, err error) {
	return replay(p, r, capacity, r.Size)
}

// replay is Replay, with each request costing size() if size is not nil.
func replay(p cache.Policy, r Reader, capacity int64, size func() int64) (hits, total int64, err error) {
	if capacity <= 0 {
		return 0, 0, errors.New("trace: replay: capacity must be >= 1")
	}
	hint := int(min(capacity, 1<<20))
	if size != nil {
		hint = 1024
	}
	rp := &replayer{
		p:       p,
		cap:     capacity,
		set:     newResidents(hint),
		pending: make([]cache.Event, 0, maxBatch),
	}
	for k, ok := r.Next(); ok; k, ok = r.Next() {
		total++
		cost := int64(1)
		if size != nil {
			cost = max(size(), 1)
		}
		if rp.request(Mix(k), cost) {
			hits++
		}
	}
	rp.flush()
	return hits, total, r.Err()
}

// replayer is the state of one [Replay].
type replayer struct {
	p       cache.Policy
	cap     int64 // entries, or bytes with sizes
	set     *residents
	pending []cache.Event
	victims []uint64
	cursor  int // where the next fallback eviction looks
}

// request handles one request for h, of cost, and reports whether it hit.
func (rp *replayer) request(h uint64, cost int64) bool {
	if rp.set.has(h) {
		rp.add(cache.Event{Op: cache.OpAccess, Hash: h})
		return true
	}
	if cost > rp.cap {
		return false // served, not kept
	}
	rp.add(cache.Event{Op: cache.OpInsert, Hash: h, Cost: cost})
	if rp.makeRoom(h, cost) {
		rp.set.add(h, cost)
	}
	return false
}

// makeRoom evicts until an entry of cost fits; it returns false if the
// policy named the newcomer h itself.
func (rp *replayer) makeRoom(h uint64, cost int64) bool {
	for rp.set.cost()+cost > rp.cap {
		rp.flush()
		over := rp.set.cost() + cost - rp.cap
		rp.victims = rp.p.Evict(over, rp.victims[:0])
		freed, rejected := 0, false
		for _, v := range rp.victims {
			if v == h {
				rejected = true
			} else if rp.set.remove(v) {
				freed++
			}
		}
		if rejected {
			return false
		}
		if freed == 0 {
			rp.evictAny()
		}
	}
	return true
}

// evictAny removes some resident entry the policy did not name, and tells
// the policy.
func (rp *replayer) evictAny() {
	rp.cursor++
	h := rp.set.at(rp.cursor)
	rp.set.remove(h)
	rp.add(cache.Event{Op: cache.OpRemove, Hash: h})
}

func (rp *replayer) add(ev cache.Event) {
	rp.pending = append(rp.pending, ev)
	if len(rp.pending) == maxBatch {
		rp.flush()
	}
}

func (rp *replayer) flush() {
	if len(rp.pending) > 0 {
		rp.p.Apply(rp.pending)
		rp.pending = rp.pending[:0]
	}
}
