package cache

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
)

const numShards = 64 // a power of two; shard is picked by the hash's top bits

type shard struct {
	mu   sync.RWMutex
	m    index[*entry]
	hits atomic.Int64  // counted here: the shard's line is hot on a hit anyway
	seq  atomic.Uint64 // bumped by every Set, Delete and Purge in the shard
	_    [24]byte      // keep shards on separate cache lines
}

// store is a sharded index from key hash to entry that keeps count of its
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
	// An entry's hash is computed again from its key where the index
	// needs it (moving it, or checking a victim named by hash): storing
	// it would cost 8 bytes an entry.
	hashOf := func(e *entry) uint64 { return s.hash(e.key()) }
	for i := range s.shards {
		s.shards[i].m.hashOf = hashOf
	}
	return s
}

func (s *store) hash(key string) uint64 { return maphash.String(s.seed, key) }

func (s *store) shard(h uint64) *shard { return &s.shards[h>>58] }

// get returns key's entry, or nil. The entry may have expired.
func (s *store) get(key string, h uint64) *entry {
	sh := s.shard(h)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	if i := sh.m.findFunc(h, func(e *entry) bool { return e.key() == key }); i >= 0 {
		return sh.m.vals[i]
	}
	return nil
}

// peek returns the entry stored under h, whatever its key, or nil.
func (s *store) peek(h uint64) *entry {
	sh := s.shard(h)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	e, _ := sh.m.get(h)
	return e
}

// put stores e under h and returns the entry it replaced, if any.
func (s *store) put(h uint64, e *entry) *entry {
	sh := s.shard(h)
	sh.mu.Lock()
	old, _ := sh.m.putAt(h, e)
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
	e, _ := sh.m.remove(h)
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
		for _, e := range sh.m.vals {
			if e != nil {
				if h := s.hash(e.key()); h != keep {
					sh.mu.RUnlock()
					return h, true
				}
			}
		}
		sh.mu.RUnlock()
	}
	return 0, false
}

// each calls fn for every entry, one shard at a time under its read lock.
// An entry's hash is s.hash(e.key()).
func (s *store) each(fn func(e *entry)) {
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		sh.m.each(fn)
		sh.mu.RUnlock()
	}
}
