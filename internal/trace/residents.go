package trace

// residents is the set of hashes a replayed cache holds. Besides the map it
// keeps the hashes in a dense slice, so that picking "some" entry is cheap
// and deterministic.
type residents struct {
	index map[uint64]int // hash -> position in keys
	keys  []uint64
}

func newResidents(capacity int) *residents {
	return &residents{
		index: make(map[uint64]int, capacity),
		keys:  make([]uint64, 0, capacity),
	}
}

func (s *residents) len() int { return len(s.keys) }

func (s *residents) has(h uint64) bool {
	_, ok := s.index[h]
	return ok
}

func (s *residents) add(h uint64) {
	s.index[h] = len(s.keys)
	s.keys = append(s.keys, h)
}

// remove deletes h and reports whether it was there.
func (s *residents) remove(h uint64) bool {
	i, ok := s.index[h]
	if !ok {
		return false
	}
	last := s.keys[len(s.keys)-1]
	s.keys[i] = last
	s.index[last] = i
	s.keys = s.keys[:len(s.keys)-1]
	delete(s.index, h)
	return true
}

// at returns the hash at position i modulo the set's size; the set must not
// be empty.
func (s *residents) at(i int) uint64 { return s.keys[i%len(s.keys)] }
