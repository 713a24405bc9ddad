package trace

import (
	"errors"

	"github.com/distcache/distcache/sdk/policy/evict"
	"github.com/distcache/distcache/server/cache"
)

// Mix is the splitmix64 finalizer, a bijection, so distinct keys never
// share a hash. [Replay] names keys to policies by Mix(key).
func Mix(key uint64) uint64 {
	z := key + 0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// Replay drives p through the trace r the way a cache group does, under
// the host's own eviction rules ([evict.Rules], shared with the node's
// groups and policytest), with a cost of 1 per entry, so capacity counts
// entries. A hit sends an OpAccess; a miss announces an OpInsert and, when
// the cache is full, asks p to Evict and removes the victims it names; if p
// names the newcomer, it is not admitted. Events are lossless (unlike a
// group's read buffer), applied in order in batches of at most 1024, and
// always before an Evict, so two policies with the same logic give the same
// hits.
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
	c := evict.NewCache(p, capacity, hint)
	for k, ok := r.Next(); ok; k, ok = r.Next() {
		total++
		cost := int64(1)
		if size != nil {
			cost = max(size(), 1)
		}
		if c.Get(Mix(k), cost) {
			hits++
		}
	}
	c.Flush()
	return hits, total, r.Err()
}
