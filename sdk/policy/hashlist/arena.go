// Package hashlist provides doubly linked lists of cache entries named by
// their 64-bit key hash, for writing eviction policies that stay fast in
// WebAssembly: the nodes of every list live in one slice (an [Arena]) and
// link by index, so moving an entry allocates nothing and the garbage
// collector sees one object instead of one per entry.
//
// An [Arena] also indexes its nodes by hash. A policy usually keeps one
// Arena and several [List] values (say LRU and MRU ends of a segment, or
// ghost lists), and uses a node's tag to remember which list holds it.
//
// The hot methods ([Arena.Lookup], the accessors and the [List] methods)
// are small enough for the compiler to inline, and branch little: in
// WebAssembly run with interruption enabled (as distcache runs it), every
// call and every taken branch costs a check that leaves the guest, so a Go
// map or a chain of small calls per event is what makes a policy slow.
//
// Nothing here is safe for concurrent use; a policy is never called
// concurrently.
package hashlist

// Ref names a node of an [Arena]. [Nil] names none. A Ref stays valid until
// the node is deleted with [Arena.Delete]; the Arena then reuses it.
type Ref int32

// Nil is the Ref of no node. It is the zero value, so a zero [List] is
// empty.
const Nil Ref = 0

// node is an entry: its hash, cost and tag, and its links in the list that
// holds it (newer is towards the list's newest end).
type node struct {
	hash         uint64
	cost         int64
	newer, older Ref
	tag          uint32
}

// Arena holds nodes for any number of [List] values, and an index from
// hash to node (see index.go). The zero value is an empty Arena ready to
// use.
type Arena struct {
	nodes []node // nodes[0] is never used, so that Nil is the zero Ref
	index
	free Ref // a chain of deleted nodes, linked by older
}

// NewArena returns an empty Arena with room for about n nodes before it
// grows.
func NewArena(n int) *Arena {
	a := &Arena{nodes: make([]node, 1, n+1)}
	a.index.init(n)
	return a
}

// Len returns the number of nodes in the Arena, linked or not.
func (a *Arena) Len() int { return a.n }

// Lookup returns the node of hash h.
func (a *Arena) Lookup(h uint64) (Ref, bool) {
	// This is the index's probe, written here to be inlined: see index.go.
	// A zero Arena has no slots and a shift of 0: the loop does not run.
	m := mix(h)
	for i := m >> a.shift; i < uint64(len(a.slots)); i = (i + 1) & a.mask {
		s := a.slots[i]
		if s>>32 == m>>32 && a.nodes[uint32(s)].hash == h {
			return Ref(uint32(s)), true
		}
		if s == 0 {
			break
		}
	}
	return Nil, false
}

// Add makes a node for hash h, which must not have one yet, with the given
// cost and tag. The node is in no list until it is pushed onto one.
func (a *Arena) Add(h uint64, cost int64, tag uint32) Ref {
	if len(a.nodes) == 0 {
		a.nodes = make([]node, 1, 8)
	}
	r := a.free
	if r != Nil {
		a.free = a.nodes[r].older
		a.nodes[r] = node{hash: h, cost: cost, tag: tag}
	} else {
		r = Ref(len(a.nodes))
		a.nodes = append(a.nodes, node{hash: h, cost: cost, tag: tag})
	}
	a.insert(h, r)
	return r
}

// Delete forgets node r, which must be in no list. Its Ref may be reused
// by the next [Arena.Add].
func (a *Arena) Delete(r Ref) {
	a.remove(a.nodes[r].hash, r)
	a.nodes[r] = node{older: a.free}
	a.free = r
}

// Hash returns node r's hash.
func (a *Arena) Hash(r Ref) uint64 { return a.nodes[r].hash }

// Cost returns node r's cost. Change it with [List.SetCost] so that the
// list's total follows.
func (a *Arena) Cost(r Ref) int64 { return a.nodes[r].cost }

// Tag returns node r's tag, a number its owner gives it meaning (the zero
// value until set).
func (a *Arena) Tag(r Ref) uint32 { return a.nodes[r].tag }

// SetTag sets node r's tag.
func (a *Arena) SetTag(r Ref, tag uint32) { a.nodes[r].tag = tag }

// Newer returns the node after r towards its list's newest end, or [Nil].
func (a *Arena) Newer(r Ref) Ref { return a.nodes[r].newer }

// Older returns the node after r towards its list's oldest end, or [Nil].
func (a *Arena) Older(r Ref) Ref { return a.nodes[r].older }
