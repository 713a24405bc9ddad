package cache

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
)

const numShards = 64 // a power of two; shard is picked by the hash's top bits

type shard struct {
	mu   sync.RWMutex
	m    map[uint64]*entry
	hits atomic.Int64  // counted here: the shard's line is hot on a hit anyway
	seq  atomic.Uint64 // bumped by every Set, Delete and Purge in the shard
	_    [24]byte      // keep shards on separate cache lines
}

// store is a sharded map from key hash to entry that keeps count of its
// bytes and items. Reads take a shard's read lock; writes are made by the
// group under its policy lock, so the byte count only changes there.
type store struct {
	seed   maphash.Seed
	shards [numShards]shard
	bytes  atomic.Int64
	items  atomic.Int64
}

func newStore() *store {
	s := &store{seed: maphash.MakeSeed()}
	for i := range s.shards {
		s.shards[i].m = make(map[uint64]*entry)
	}
	return s
}

func (s *store) hash(key string) uint64 { return maphash.String(s.seed, key) }

func (s *store) shard(h uint64) *shard { return &s.shards[h>>58] }

// get returns key's entry, or nil. The entry may have expired.
func (s *store) get(key string, h uint64) *entry {
	sh := s.shard(h)
	sh.mu.RLock()
	e := sh.m[h]
	sh.mu.RUnlock()
	if e == nil || e.key() != key {
		return nil
	}
	return e
}

// peek returns the entry stored under h, whatever its key, or nil.
func (s *store) peek(h uint64) *entry {
	sh := s.shard(h)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	return sh.m[h]
}

// put stores e under h and returns the entry it replaced, if any.
func (s *store) put(h uint64, e *entry) *entry {
	sh := s.shard(h)
	sh.mu.Lock()
	old := sh.m[h]
	sh.m[h] = e
	sh.mu.Unlock()
	delta := e.cost()
	if old != nil {
		delta -= old.cost()
	} else {
		s.items.Add(1)
	}
	s.bytes.Add(delta) // one add, so a reader never sees both sizes counted
	return old
}

// remove deletes the entry under h and returns it, or nil.
func (s *store) remove(h uint64) *entry {
	sh := s.shard(h)
	sh.mu.Lock()
	e := sh.m[h]
	delete(sh.m, h)
	sh.mu.Unlock()
	if e != nil {
		s.bytes.Add(-e.cost())
		s.items.Add(-1)
	}
	return e
}

// any returns some resident entry's hash other than keep, looking from
// shard start on.
func (s *store) any(start int, keep uint64) (uint64, bool) {
	for i := range numShards {
		sh := &s.shards[(start+i)%numShards]
		sh.mu.RLock()
		for h := range sh.m {
			if h != keep {
				sh.mu.RUnlock()
				return h, true
			}
		}
		sh.mu.RUnlock()
	}
	return 0, false
}

// each calls fn for every entry, one shard at a time under its read lock.
func (s *store) each(fn func(h uint64, e *entry)) {
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		for h, e := range sh.m {
			fn(h, e)
		}
		sh.mu.RUnlock()
	}
}
