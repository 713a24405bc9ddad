package cache

// index is an open-addressing hash table from a 64-bit key hash to a value
// of type V that knows its own hash (hashOf), with linear probing and
// backward-shift deletion. Beside each value it keeps a one-byte tag (7
// bits of the hash), so a probe reads a value only when its tag matches.
// At most 4/5 of its slots are used, so it costs between 1.25 and 2.5
// slots of (1 + size of V) bytes per item, and it shrinks when mostly
// empty. Go's map costs 1.14 to 2.3 slots of (1 + 8 + size of V).
// Not safe for concurrent use.
type index[V comparable] struct {
	tags   []uint8 // 0: empty
	vals   []V
	n      int
	hashOf func(V) uint64
}

// minIndexSlots is the size of a new index's table.
const minIndexSlots = 8

func tagOf(h uint64) uint8 { return 0x80 | uint8(h>>50)&0x7f }

// find returns the slot holding h, or -1.
func (x *index[V]) find(h uint64) int {
	return x.findFunc(h, func(v V) bool { return x.hashOf(v) == h })
}

// findFunc returns the slot of the value under h for which is returns
// true, or -1: a cheaper test than comparing hashes when the caller has
// one.
func (x *index[V]) findFunc(h uint64, is func(V) bool) int {
	if x.n == 0 {
		return -1
	}
	mask := len(x.tags) - 1
	t := tagOf(h)
	for i := int(h) & mask; ; i = (i + 1) & mask {
		switch x.tags[i] {
		case 0:
			return -1
		case t:
			if is(x.vals[i]) {
				return i
			}
		}
	}
}

// get returns h's value and whether it has one.
func (x *index[V]) get(h uint64) (v V, ok bool) {
	if i := x.find(h); i >= 0 {
		return x.vals[i], true
	}
	return v, false
}

// put stores v under its hash and returns the value it replaced, if any.
func (x *index[V]) put(v V) (old V, replaced bool) { return x.putAt(x.hashOf(v), v) }

// putAt is put for a caller that knows v's hash h.
func (x *index[V]) putAt(h uint64, v V) (old V, replaced bool) {
	if (x.n+1)*5 > len(x.tags)*4 {
		x.resize(max(minIndexSlots, 2*len(x.tags)))
	}
	mask := len(x.tags) - 1
	t := tagOf(h)
	for i := int(h) & mask; ; i = (i + 1) & mask {
		switch x.tags[i] {
		case 0:
			x.tags[i], x.vals[i] = t, v
			x.n++
			return old, false
		case t:
			if x.hashOf(x.vals[i]) == h {
				old, x.vals[i] = x.vals[i], v
				return old, true
			}
		}
	}
}

// remove deletes h's value and returns it, if it had one.
func (x *index[V]) remove(h uint64) (v V, ok bool) {
	i := x.find(h)
	if i < 0 {
		return v, false
	}
	v = x.vals[i]
	mask := len(x.tags) - 1
	// Shift later values of the probe run back into the hole, unless
	// their home slot is cyclically after the hole.
	for j := (i + 1) & mask; x.tags[j] != 0; j = (j + 1) & mask {
		home := int(x.hashOf(x.vals[j])) & mask
		if (j-home)&mask >= (j-i)&mask {
			x.tags[i], x.vals[i] = x.tags[j], x.vals[j]
			i = j
		}
	}
	var zero V
	x.tags[i], x.vals[i] = 0, zero
	x.n--
	if len(x.tags) > minIndexSlots && x.n*8 < len(x.tags) {
		x.resize(len(x.tags) / 2)
	}
	return v, true
}

// resize moves every value into a table of slots slots.
func (x *index[V]) resize(slots int) {
	tags, vals := x.tags, x.vals
	x.tags, x.vals, x.n = make([]uint8, slots), make([]V, slots), 0
	for i, t := range tags {
		if t != 0 {
			x.put(vals[i])
		}
	}
}

// each calls fn for every value, in table order; fn must not change x.
func (x *index[V]) each(fn func(V)) {
	for i, t := range x.tags {
		if t != 0 {
			fn(x.vals[i])
		}
	}
}

// clear empties x and gives its table back.
func (x *index[V]) clear() {
	x.tags, x.vals, x.n = nil, nil, 0
}
