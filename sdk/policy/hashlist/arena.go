// Package hashlist provides doubly linked lists of cache entries named by
// their 64-bit key hash, for writing eviction policies that stay fast in
// WebAssembly: the nodes of every list live in one [Arena], in large
// fixed-size chunks, and link by index, so moving an entry allocates
// nothing and the garbage collector sees one object per 4,096 entries
// instead of one per entry. An entry costs about 32 bytes of guest memory:
// a 24-byte node and 5 to 11 bytes of index (4-byte slots, 3/8 to 3/4 of
// them in use).
//
// An [Arena] also indexes its nodes by hash. A policy usually keeps one
// Arena and several [List] values (say LRU and MRU ends of a segment, or
// ghost lists), and uses a node's tag to remember which list holds it.
//
// The hot methods branch little, and the accessors, [List.PushNewest] and
// [List.PushOldest] are small enough for the compiler to inline: in
// WebAssembly run with interruption enabled (as distcache runs it), every
// call and every taken branch costs a check that leaves the guest, so a Go
// map or a chain of small calls per event is what makes a policy slow.
// [Arena.Lookup], [List.MoveToNewest] and [List.Remove] are one call each:
// the chunks' indirection put them over the inliner's budget, a price
// paid for the memory (an access event through lru.wasm took ~325 ns of
// CPU against ~237 before, measured; an insert no more within the noise).
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

// MaxNodes is the most nodes an Arena holds at once; [Arena.Add] panics
// past it. It is what a Ref fits in next to the index's tag (see index.go):
// 2²⁷, about 134 million entries, more than 4 GiB of WebAssembly memory
// can hold at 24 bytes a node.
const MaxNodes = 1<<(32-tagBits) - 1

// node is an entry: its hash, cost and tag, and its links in the list that
// holds it (newer is towards the list's newest end). It is 24 bytes: costs
// are at most 2³²−1, as the ABI sends them.
type node struct {
	hash         uint64
	newer, older Ref
	cost         uint32
	tag          uint32
}

// Nodes live in chunks of chunkSize, allocated one at a time and never
// moved: growing the Arena copies nothing and leaves no garbage, so its
// memory is the nodes' own (24 bytes each) and one chunk of slack. A
// slice that doubled instead would need three times its size at the
// moment it grows, and the Go runtime in WebAssembly never gives memory
// back.
const (
	chunkBits = 12
	chunkSize = 1 << chunkBits // 96 KiB of nodes
	chunkMask = chunkSize - 1
)

type chunk [chunkSize]node

// Arena holds nodes for any number of [List] values, and an index from
// hash to node (see index.go). The zero value is an empty Arena ready to
// use.
type Arena struct {
	chunks []*chunk // node 0 is never used, so that Nil is the zero Ref
	next   Ref      // the lowest Ref never used
	index
	free Ref // a chain of deleted nodes, linked by older
}

// NewArena returns an empty Arena with room for about n nodes before it
// grows.
func NewArena(n int) *Arena {
	a := &Arena{}
	for range (n + chunkSize) / chunkSize {
		a.chunks = append(a.chunks, new(chunk))
	}
	a.next = 1
	a.index.init(n)
	return a
}

// node returns node r. The chunk is an array, so the masked index needs no
// bounds check.
func (a *Arena) node(r Ref) *node {
	return &a.chunks[r>>chunkBits][r&chunkMask]
}

// Len returns the number of nodes in the Arena, linked or not.
func (a *Arena) Len() int { return a.n }

// Add makes a node for hash h, which must not have one yet, with the given
// cost (clamped to [0, 2³²−1]) and tag. The node is in no list until it is
// pushed onto one. It panics if the Arena holds [MaxNodes] nodes already.
func (a *Arena) Add(h uint64, cost int64, tag uint32) Ref {
	r := a.free
	if r != Nil {
		a.free = a.node(r).older
	} else {
		r = a.grow()
	}
	*a.node(r) = node{hash: h, cost: clampCost(cost), tag: tag}
	a.insert(h, r)
	return r
}

// grow returns a Ref never used, allocating a chunk for it if needed.
func (a *Arena) grow() Ref {
	if a.next == Nil {
		a.next = 1 // a zero Arena: node 0 is the unused one
	}
	r := a.next
	if r > MaxNodes {
		panic("hashlist: more than MaxNodes nodes")
	}
	if int(uint32(r)>>chunkBits) == len(a.chunks) {
		a.chunks = append(a.chunks, new(chunk))
	}
	a.next++
	return r
}

// clampCost stores a cost in a node's 32 bits.
func clampCost(c int64) uint32 { return uint32(min(max(c, 0), 1<<32-1)) }

// Delete forgets node r, which must be in no list. Its Ref may be reused
// by the next [Arena.Add].
func (a *Arena) Delete(r Ref) {
	n := a.node(r)
	a.remove(n.hash, r)
	*n = node{older: a.free}
	a.free = r
}

// Hash returns node r's hash.
func (a *Arena) Hash(r Ref) uint64 { return a.node(r).hash }

// Cost returns node r's cost. Change it with [List.SetCost] so that the
// list's total follows.
func (a *Arena) Cost(r Ref) int64 { return int64(a.node(r).cost) }

// Tag returns node r's tag, a number its owner gives it meaning (the zero
// value until set).
func (a *Arena) Tag(r Ref) uint32 { return a.node(r).tag }

// SetTag sets node r's tag.
func (a *Arena) SetTag(r Ref, tag uint32) { a.node(r).tag = tag }

// Newer returns the node after r towards its list's newest end, or [Nil].
func (a *Arena) Newer(r Ref) Ref { return a.node(r).newer }

// Older returns the node after r towards its list's oldest end, or [Nil].
func (a *Arena) Older(r Ref) Ref { return a.node(r).older }
