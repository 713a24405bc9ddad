package cache

import "github.com/distcache/distcache/sdk/policy/evict"

// insert stores a loaded entry (or a remembered not-found) under the
// policy lock. The policy hears of the entry first and is then asked for
// room, so an admission policy may name the newcomer itself as the victim:
// then it is not stored. The insert is dropped if a Set, Delete or Purge
// touched the key's shard since the load began (seq), so a slow load never
// overwrites a newer write.
func (g *Group) insert(key string, h uint64, value []byte, expires int64, negative bool, seq uint64, epoch uint64) error {
	cost := entryCost(key, value)
	if cost > g.cfg.Capacity {
		return ErrTooLarge
	}
	g.pmu.Lock()
	defer g.pmu.Unlock()
	if g.store.shard(h).seq.Load() != seq {
		return nil
	}
	var flags uint32
	if negative {
		flags = flagNegative
	}
	g.putLocked(h, newEntry(key, value, expires, 0, epoch, flags), false)
	return nil
}

// insertRecord stores a written record (a Set's value or a Delete's
// tombstone) unless the store holds a newer version of its key. Written
// records bypass admission: a policy may not refuse an acknowledged write
// (it may evict it later, for a later write's room). It returns whether r
// was kept.
func (g *Group) insertRecord(h uint64, r Record, epoch uint64) (bool, error) {
	cost := entryCost(r.Key, r.Value)
	if cost > g.cfg.Capacity {
		return false, ErrTooLarge
	}
	g.clock.observe(r.Version)
	g.pmu.Lock()
	defer g.pmu.Unlock()
	if old := g.store.peek(h); old != nil && old.key() == r.Key && old.written() && old.version() > r.Version {
		return false, nil
	}
	g.store.shard(h).seq.Add(1)
	var expires int64
	if !r.Expires.IsZero() {
		expires = r.Expires.UnixNano()
	}
	flags := uint32(flagWritten)
	if r.Tomb {
		flags |= flagTomb
	}
	g.putLocked(h, newEntry(r.Key, r.Value, expires, r.Version, epoch, flags), true)
	return true, nil
}

// putLocked stores e under h after making room under the host's rules
// ([evict.Rules]). An entry the policy refuses is dropped unless force is
// set: then others make room for it and the policy is told of it again.
func (g *Group) putLocked(h uint64, e *entry, force bool) {
	g.rules.AppendEvents(g.reads.collect)
	if !g.rules.Put((*policyStore)(g), h, e.cost(), force) {
		return // not admitted (and an old entry under h is gone)
	}
	if old := g.store.put(h, e); old != nil && g.expired(old) {
		g.expirations.Add(1)
	}
}

// policyStore is the group's store as the eviction rules see it. Its
// methods run under the policy lock.
type policyStore Group

var _ evict.Store = (*policyStore)(nil)

func (s *policyStore) Bytes() int64 { return s.store.bytes.Load() }

func (s *policyStore) Cost(h uint64) (int64, bool) {
	if e := s.store.peek(h); e != nil {
		return e.cost(), true
	}
	return 0, false
}

func (s *policyStore) Evict(h uint64, fallback bool) (int64, bool) {
	e := s.store.remove(h)
	if e == nil {
		return 0, false
	}
	s.evictions.Add(1)
	if fallback {
		s.fallbacks.Add(1)
	}
	return e.cost(), true
}

// Any picks the first entry of a shard, starting from a cursor that moves
// on with every pick.
func (s *policyStore) Any(except uint64) (uint64, bool) {
	h, ok := s.store.any(s.cursor, except)
	if ok {
		s.cursor = int(h>>58+1) % numShards
	}
	return h, ok
}

// flushLocked applies the pending events to the policy.
func (g *Group) flushLocked() { g.rules.Flush() }

// drainLocked is called by the read buffer with the policy lock held (it
// took it with TryLock) and a full stripe of accesses; it releases the lock.
func (g *Group) drainLocked(hashes []uint64) {
	for _, h := range hashes {
		g.rules.Access(h)
	}
	g.rules.Flush()
	g.pmu.Unlock()
}

// SetPolicy replaces the group's policy with p and returns the old one.
// Every resident entry is replayed into p as an insert first, so p's
// accounting matches the store's exactly.
func (g *Group) SetPolicy(p Policy) Policy {
	g.pmu.Lock()
	defer g.pmu.Unlock()
	g.rules.AppendEvents(g.reads.collect)
	return g.rules.Replace(p, func(yield func(h uint64, cost int64)) {
		g.store.each(func(e *entry) { yield(g.store.hash(e.key()), e.cost()) })
	})
}

// sync applies every buffered and pending event to the policy now.
func (g *Group) sync() {
	g.pmu.Lock()
	defer g.pmu.Unlock()
	g.rules.AppendEvents(g.reads.collect)
	g.rules.Flush()
}
