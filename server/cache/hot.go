package cache

import (
	"sync"
	"sync/atomic"
)

// DefaultHotShare is the share of a group's capacity kept for hot copies of
// keys other nodes own, when the group has peers.
const DefaultHotShare = 8 // one eighth

// hotWindow is how many fetched keys the doorkeeper remembers before it
// forgets them all.
const hotWindow = 4096

// hotCache keeps copies of keys this node does not own but reads often. A
// key is kept only when it is fetched from its owner a second time within
// the doorkeeper's window, so one-off reads do not churn it. It is an LRU
// bounded in bytes, guarded by one mutex: a hot hit saves a network round
// trip, so the mutex costs little in comparison. Its entries are the
// store's and cost what the store's do.
type hotCache struct {
	mu       sync.Mutex
	capacity int64
	bytes    int64
	items    map[uint64]*entry // by key hash; a colliding key replaces the other
	lru      *LRU
	seen     map[uint64]struct{} // the doorkeeper
	// gens counts the invalidations of each bucket of key hashes: a fetch
	// notes its bucket's count before it asks the owner, and its answer is
	// kept only if no invalidation came in meanwhile (the owner may have
	// revoked the lease before its answer arrived).
	gens [256]atomic.Uint64
}

func newHotCache(capacity int64) *hotCache {
	return &hotCache{capacity: capacity, items: map[uint64]*entry{}, lru: NewLRU(), seen: map[uint64]struct{}{}}
}

// get returns key's copy (h is its hash) if it has one that has not
// expired at now.
func (c *hotCache) get(key string, h uint64, now int64) *entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.items[h]
	if e == nil || e.key() != key {
		return nil
	}
	if e.expired(now) {
		c.removeLocked(h)
		return nil
	}
	c.lru.access(h)
	return e
}

// gen returns the invalidation count of h's bucket.
func (c *hotCache) gen(h uint64) uint64 { return c.gens[h&255].Load() }

// offer shows the cache a value just fetched from its owner; it keeps a
// copy if the key is hot and no invalidation of its bucket came in since
// gen was read. It returns whether it did.
func (c *hotCache) offer(key string, h uint64, value []byte, expires int64, gen uint64) bool {
	cost := entryCost(key, value)
	if cost > c.capacity {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gens[h&255].Load() != gen {
		return false
	}
	if _, ok := c.seen[h]; !ok {
		if len(c.seen) >= hotWindow {
			clear(c.seen)
		}
		c.seen[h] = struct{}{}
		return false
	}
	c.removeLocked(h)
	for c.bytes+cost > c.capacity {
		old, _, ok := c.lru.oldest()
		if !ok {
			break
		}
		c.removeLocked(old)
	}
	c.items[h] = newEntry(key, value, expires, 0, 0, 0)
	c.lru.insert(h, cost)
	c.bytes += cost
	return true
}

// remove drops key's copy, if any, and any answer to a fetch of it still
// on its way.
func (c *hotCache) remove(key string, h uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gens[h&255].Add(1)
	if e := c.items[h]; e != nil && e.key() == key {
		c.removeLocked(h)
	}
}

func (c *hotCache) removeLocked(h uint64) {
	e := c.items[h]
	if e == nil {
		return
	}
	delete(c.items, h)
	c.lru.remove(h)
	c.bytes -= e.cost()
}

// stats returns the items and bytes held.
func (c *hotCache) stats() (items, bytes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return int64(len(c.items)), c.bytes
}

// purge drops every copy, and every answer still on its way.
func (c *hotCache) purge() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.gens {
		c.gens[i].Add(1)
	}
	clear(c.items)
	c.lru = NewLRU()
	c.bytes = 0
}
