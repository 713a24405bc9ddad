package cache

// Stats are a group's counters on this node since it started.
type Stats struct {
	Gets         int64 // Hits + Misses + NegativeHits
	Hits         int64 // Gets answered from the store or a hot copy
	HotHits      int64 // Gets answered from a hot copy of another node's key
	PeerFetches  int64 // misses sent to the key's owner
	PeerErrors   int64 // peer calls that did not reach the other node
	Repairs      int64 // owner reads that found a newer version on another replica
	Handoffs     int64 // written records sent to other nodes after ring changes
	Dropped      int64 // entries dropped after ring changes (no longer kept here)
	Misses       int64 // Gets not in the store
	Loads        int64 // loader calls
	LoadErrors   int64 // loader calls that failed (not-found is no error)
	NegativeHits int64 // Gets answered by a remembered not-found
	Evictions    int64 // entries removed to make room
	Expirations  int64 // entries removed because their ttl ran out
	Fallbacks    int64 // evictions the group chose because the policy named no resident entry
	Items        int64 // entries held now, hot copies included
	Bytes        int64 // bytes held now, hot copies included; never more than Capacity
	HotItems     int64 // hot copies held now
	Capacity     int64 // the group's capacity in bytes
	Policy       string
}

// HitRatio returns Hits/Gets, or 0 before the first Get.
func (s Stats) HitRatio() float64 {
	if s.Gets == 0 {
		return 0
	}
	return float64(s.Hits) / float64(s.Gets)
}

// Stats returns a snapshot of the group's counters. It is safe to call at
// any time; counters are read one by one, not as one atomic snapshot.
func (g *Group) Stats() Stats {
	var hits int64
	for i := range g.store.shards {
		hits += g.store.shards[i].hits.Load()
	}
	hotItems, hotBytes := int64(0), int64(0)
	if g.hot != nil {
		hotItems, hotBytes = g.hot.stats()
	}
	s := Stats{
		Hits:         hits + g.hotHits.Load(),
		HotHits:      g.hotHits.Load(),
		PeerFetches:  g.peerFetches.Load(),
		PeerErrors:   g.peerErrors.Load(),
		Repairs:      g.repairs.Load(),
		Handoffs:     g.handoffs.Load(),
		Dropped:      g.dropped.Load(),
		HotItems:     hotItems,
		Misses:       g.misses.Load(),
		Loads:        g.loads.Load(),
		LoadErrors:   g.loadErrors.Load(),
		NegativeHits: g.negHits.Load(),
		Evictions:    g.evictions.Load(),
		Expirations:  g.expirations.Load(),
		Fallbacks:    g.fallbacks.Load(),
		Items:        g.store.items.Load() + hotItems,
		Bytes:        g.store.bytes.Load() + hotBytes,
		Capacity:     g.total,
		Policy:       g.policyName(),
	}
	s.Gets = s.Hits + s.Misses + s.NegativeHits
	return s
}

func (g *Group) policyName() string {
	g.pmu.Lock()
	defer g.pmu.Unlock()
	if n, ok := g.rules.Policy().(PolicyName); ok {
		return n.Name()
	}
	return "custom"
}
