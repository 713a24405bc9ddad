package trace

// residents is the set of hashes a replayed cache holds. Besides the map it
// keeps the hashes in a dense slice, so that picking "some" entry is cheap
// and deterministic, and the cost of each.
type residents struct {
	index map[uint64]int // hash -> position in keys
	keys  []uint64
	costs []int64 // costs[i] is the cost of keys[i]
	total int64   // the sum of costs
}

func newResidents(capacity int) *residents {
	return &residents{
		index: make(map[uint64]int, capacity),
		keys:  make([]uint64, 0, capacity),
		costs: make([]int64, 0, capacity),
	}
}

func (s *residents) len() int { return len(s.keys) }

// cost returns the sum of the residents' costs.
func (s *residents) cost() int64 { return s.total }

func (s *residents) has(h uint64) bool {
	_, ok := s.index[h]
	return ok
}

func (s *residents) add(h uint64, cost int64) {
	s.index[h] = len(s.keys)
	s.keys = append(s.keys, h)
	s.costs = append(s.costs, cost)
	s.total += cost
}

// remove deletes h and reports whether it was there.
func (s *residents) remove(h uint64) bool {
	i, ok := s.index[h]
	if !ok {
		return false
	}
	s.total -= s.costs[i]
	last := len(s.keys) - 1
	s.keys[i], s.costs[i] = s.keys[last], s.costs[last]
	s.index[s.keys[i]] = i
	s.keys, s.costs = s.keys[:last], s.costs[:last]
	delete(s.index, h)
	return true
}

// at returns the hash at position i modulo the set's size; the set must not
// be empty.
func (s *residents) at(i int) uint64 { return s.keys[i%len(s.keys)] }
