package evict

// Residents is a [Store] that holds only hashes and costs: the cache of a
// simulation. Besides a map it keeps the hashes in a dense slice, so its
// fallback victim is cheap to find and the same on every run. The zero
// value is not ready; use [NewResidents]. Not safe for concurrent use.
type Residents struct {
	index  map[uint64]int // hash -> position in keys and costs
	keys   []uint64
	costs  []int64
	bytes  int64
	cursor int // where Any looks next
}

var _ Store = (*Residents)(nil)

// NewResidents returns an empty set with room for about n entries.
func NewResidents(n int) *Residents {
	n = max(0, min(n, 1<<20))
	return &Residents{
		index: make(map[uint64]int, n),
		keys:  make([]uint64, 0, n),
		costs: make([]int64, 0, n),
	}
}

// Len returns the number of resident entries.
func (s *Residents) Len() int { return len(s.keys) }

// Bytes implements [Store].
func (s *Residents) Bytes() int64 { return s.bytes }

// Contains reports whether h is resident.
func (s *Residents) Contains(h uint64) bool {
	_, ok := s.index[h]
	return ok
}

// Cost implements [Store].
func (s *Residents) Cost(h uint64) (int64, bool) {
	i, ok := s.index[h]
	if !ok {
		return 0, false
	}
	return s.costs[i], true
}

// Put stores h with cost bytes, replacing a resident h.
func (s *Residents) Put(h uint64, cost int64) {
	if i, ok := s.index[h]; ok {
		s.bytes += cost - s.costs[i]
		s.costs[i] = cost
		return
	}
	s.index[h] = len(s.keys)
	s.keys = append(s.keys, h)
	s.costs = append(s.costs, cost)
	s.bytes += cost
}

// Evict implements [Store]; it is [Residents.Remove].
func (s *Residents) Evict(h uint64, _ bool) (int64, bool) { return s.Remove(h) }

// Remove deletes h and returns its cost, or false if it was not resident.
func (s *Residents) Remove(h uint64) (int64, bool) {
	i, ok := s.index[h]
	if !ok {
		return 0, false
	}
	cost := s.costs[i]
	last := len(s.keys) - 1
	s.keys[i], s.costs[i] = s.keys[last], s.costs[last]
	s.index[s.keys[i]] = i
	s.keys, s.costs = s.keys[:last], s.costs[:last]
	delete(s.index, h)
	s.bytes -= cost
	return cost, true
}

// Any implements [Store]: it takes the entries in slot order from a
// cursor that moves on with every call.
func (s *Residents) Any(except uint64) (uint64, bool) {
	for range 2 {
		if len(s.keys) == 0 {
			return 0, false
		}
		s.cursor = (s.cursor + 1) % len(s.keys)
		if h := s.keys[s.cursor]; h != except {
			return h, true
		}
	}
	return 0, false
}
