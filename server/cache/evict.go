package cache

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

// putLocked stores e under h after making room. An entry the policy
// refuses is dropped unless force is set: then others make room for it
// and the policy is told of it again.
func (g *Group) putLocked(h uint64, e *entry, force bool) {
	g.pending = g.reads.collect(g.pending)
	op := OpInsert
	if g.store.peek(h) != nil {
		op = OpUpdate
	}
	cost := e.cost()
	g.pending = append(g.pending, Event{Op: op, Hash: h, Cost: cost})
	if !g.makeRoomLocked(h, cost, force) {
		return // not admitted
	}
	if old := g.store.put(h, e); old != nil && g.expired(old) {
		g.expirations.Add(1)
	}
	if len(g.pending) >= maxPending {
		g.flushLocked()
	}
}

// maxPending is how many events wait before they are applied even when no
// eviction asks for them.
const maxPending = 1024

// makeRoomLocked evicts until an entry of cost bytes fits under h, which
// may replace an entry already there. It returns false if the policy named
// h itself: the newcomer is not admitted (and an old entry under h is
// gone). With force, a refused newcomer is announced to the policy again
// and room is made from other entries.
func (g *Group) makeRoomLocked(h uint64, cost int64, force bool) bool {
	refused := false
	defer func() {
		if refused && force {
			g.pending = append(g.pending, Event{Op: OpInsert, Hash: h, Cost: cost})
		}
	}()
	for {
		var resident int64
		if old := g.store.peek(h); old != nil {
			resident = old.cost()
		}
		over := g.store.bytes.Load() - resident + cost - g.cfg.Capacity
		if over <= 0 {
			return true
		}
		g.flushLocked()
		freed, rejected := g.evictLocked(over, h)
		if rejected {
			if !force {
				return false
			}
			refused = true
		}
		if freed == 0 && !g.evictAnyLocked(h) {
			return true // nothing else to evict: the entry fits alone
		}
	}
}

// evictLocked removes the victims the policy names and returns the bytes
// freed, and whether the policy named the newcomer h. Hashes the store
// does not hold are ignored.
func (g *Group) evictLocked(need int64, h uint64) (freed int64, rejected bool) {
	g.victims = g.policy.Evict(need, g.victims[:0])
	for _, v := range g.victims {
		if v == h {
			rejected = true
		}
		if e := g.store.remove(v); e != nil {
			freed += e.cost()
			g.evictions.Add(1)
		}
	}
	return freed, rejected
}

// evictAnyLocked removes some entry other than keep when the policy names
// none the store holds, so a misbehaving policy cannot make the group
// exceed capacity. It returns false when there is none to remove.
func (g *Group) evictAnyLocked(keep uint64) bool {
	h, ok := g.store.any(g.cursor, keep)
	if !ok {
		return false
	}
	g.cursor = int(h>>58+1) % numShards
	g.store.remove(h)
	g.evictions.Add(1)
	g.fallbacks.Add(1)
	g.pending = append(g.pending, Event{Op: OpRemove, Hash: h})
	g.flushLocked()
	return true
}

// flushLocked applies the pending events to the policy.
func (g *Group) flushLocked() {
	if len(g.pending) == 0 {
		return
	}
	g.policy.Apply(g.pending)
	clear(g.pending)
	g.pending = g.pending[:0]
}

// drainLocked is called by the read buffer with the policy lock held (it
// took it with TryLock) and a full stripe of accesses; it releases the lock.
func (g *Group) drainLocked(hashes []uint64) {
	for _, h := range hashes {
		g.pending = append(g.pending, Event{Op: OpAccess, Hash: h})
	}
	g.flushLocked()
	g.pmu.Unlock()
}

// SetPolicy replaces the group's policy with p and returns the old one.
// Every resident entry is replayed into p as an insert first, so p's
// accounting matches the store's exactly.
func (g *Group) SetPolicy(p Policy) Policy {
	g.pmu.Lock()
	defer g.pmu.Unlock()
	g.pending = g.reads.collect(g.pending)
	g.flushLocked()
	var batch []Event
	g.store.each(func(e *entry) {
		batch = append(batch, Event{Op: OpInsert, Hash: g.store.hash(e.key()), Cost: e.cost()})
	})
	p.Apply(batch)
	old := g.policy
	g.policy = p
	return old
}

// sync applies every buffered and pending event to the policy now.
func (g *Group) sync() {
	g.pmu.Lock()
	defer g.pmu.Unlock()
	g.pending = g.reads.collect(g.pending)
	g.flushLocked()
}
