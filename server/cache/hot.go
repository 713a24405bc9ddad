package cache

import (
	"container/list"
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
// trip, so the mutex costs little in comparison.
type hotCache struct {
	mu       sync.Mutex
	capacity int64
	bytes    int64
	ll       *list.List // front is most recent; values are *hotItem
	items    map[string]*list.Element
	seen     map[uint64]struct{} // the doorkeeper
	// gens counts the invalidations of each bucket of key hashes: a fetch
	// notes its bucket's count before it asks the owner, and its answer is
	// kept only if no invalidation came in meanwhile (the owner may have
	// revoked the lease before its answer arrived).
	gens [256]atomic.Uint64
}

type hotItem struct {
	key string
	e   *entry
}

func newHotCache(capacity int64) *hotCache {
	return &hotCache{capacity: capacity, ll: list.New(), items: map[string]*list.Element{}, seen: map[uint64]struct{}{}}
}

// get returns key's copy if it has one that has not expired at now.
func (c *hotCache) get(key string, now int64) *entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return nil
	}
	it := el.Value.(*hotItem)
	if it.e.expired(now) {
		c.removeLocked(el)
		return nil
	}
	c.ll.MoveToFront(el)
	return it.e
}

// gen returns the invalidation count of h's bucket.
func (c *hotCache) gen(h uint64) uint64 { return c.gens[h&255].Load() }

// offer shows the cache a value just fetched from its owner; it keeps it
// if the key is hot and no invalidation of its bucket came in since gen
// was read. It returns whether it did.
func (c *hotCache) offer(key string, h uint64, value []byte, expires int64, gen uint64) bool {
	e := &entry{key: key, value: value, expires: expires, cost: entryCost(key, value)}
	if e.cost > c.capacity {
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
	c.storeLocked(e)
	return true
}

// storeLocked keeps e, replacing any copy of its key and evicting the
// least recently used copies until it fits.
func (c *hotCache) storeLocked(e *entry) {
	if el, ok := c.items[e.key]; ok {
		c.removeLocked(el)
	}
	for c.bytes+e.cost > c.capacity {
		c.removeLocked(c.ll.Back())
	}
	c.items[e.key] = c.ll.PushFront(&hotItem{key: e.key, e: e})
	c.bytes += e.cost
}

// remove drops key's copy, if any, and any answer to a fetch of it still
// on its way.
func (c *hotCache) remove(key string, h uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gens[h&255].Add(1)
	if el, ok := c.items[key]; ok {
		c.removeLocked(el)
	}
}

func (c *hotCache) removeLocked(el *list.Element) {
	it := c.ll.Remove(el).(*hotItem)
	delete(c.items, it.key)
	c.bytes -= it.e.cost
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
	c.ll.Init()
	clear(c.items)
	c.bytes = 0
}
