package cache

import "math"

// LRU is the native least-recently-used [Policy], the default until a
// group's configured policy plugin is loaded. The zero value is not ready;
// use [NewLRU]. Not safe for concurrent use (the group locks around it).
//
// It keeps its list in pages of nodes linked by index, with freed nodes
// reused, and an [index] from key hash to node: about 20 bytes a node and
// 6 to 12 bytes of index per entry, with nothing for the garbage collector
// to scan and no copy of the list when it grows.
type LRU struct {
	pages [][]lruNode // node i is pages[i/lruPage][i%lruPage]; node 0 is the list's sentinel
	used  uint32      // nodes handed out so far, the sentinel included
	free  uint32      // the first free node, chained through next; 0: none
	index index[uint32]
}

// lruPage is how many nodes a page holds.
const lruPage = 1024

type lruNode struct {
	hashLo, hashHi uint32 // the key hash, in two halves to keep a node 20 bytes
	cost           uint32 // saturated: an entry costs less than 4 GiB
	prev, next     uint32
}

func (n *lruNode) hash() uint64 { return uint64(n.hashHi)<<32 | uint64(n.hashLo) }

// NewLRU returns an empty LRU policy.
func NewLRU() *LRU {
	p := &LRU{pages: [][]lruNode{make([]lruNode, lruPage)}, used: 1}
	p.index.hashOf = func(i uint32) uint64 { return p.node(i).hash() }
	return p
}

var (
	_ Policy     = (*LRU)(nil)
	_ PolicyName = (*LRU)(nil)
)

// Name returns "lru (native)".
func (p *LRU) Name() string { return "lru (native)" }

// Len returns the number of entries the policy tracks.
func (p *LRU) Len() int { return p.index.n }

// Apply implements [Policy].
func (p *LRU) Apply(events []Event) {
	for _, ev := range events {
		switch ev.Op {
		case OpAccess:
			p.access(ev.Hash)
		case OpInsert, OpUpdate:
			p.insert(ev.Hash, ev.Cost)
		case OpRemove:
			p.remove(ev.Hash)
		}
	}
}

// Evict implements [Policy]: it names the least recently used entries.
func (p *LRU) Evict(need int64, dst []uint64) []uint64 {
	for need > 0 {
		h, cost, ok := p.oldest()
		if !ok {
			break
		}
		p.remove(h)
		dst = append(dst, h)
		need -= cost
	}
	return dst
}

func (p *LRU) node(i uint32) *lruNode { return &p.pages[i/lruPage][i%lruPage] }

// access makes h the most recent, if the policy tracks it.
func (p *LRU) access(h uint64) {
	if i, ok := p.index.get(h); ok {
		p.unlink(i)
		p.pushFront(i)
	}
}

// insert makes h the most recent with cost.
func (p *LRU) insert(h uint64, cost int64) {
	c := uint32(min(max(cost, 0), math.MaxUint32))
	if i, ok := p.index.get(h); ok {
		p.node(i).cost = c
		p.unlink(i)
		p.pushFront(i)
		return
	}
	i := p.alloc()
	*p.node(i) = lruNode{hashLo: uint32(h), hashHi: uint32(h >> 32), cost: c}
	p.pushFront(i)
	p.index.putAt(h, i)
}

// remove forgets h, if the policy tracks it.
func (p *LRU) remove(h uint64) {
	i, ok := p.index.remove(h)
	if !ok {
		return
	}
	p.unlink(i)
	*p.node(i) = lruNode{next: p.free}
	p.free = i
}

// oldest returns the least recently used hash and its cost.
func (p *LRU) oldest() (h uint64, cost int64, ok bool) {
	i := p.node(0).prev
	if i == 0 {
		return 0, 0, false
	}
	n := p.node(i)
	return n.hash(), int64(n.cost), true
}

func (p *LRU) alloc() uint32 {
	if i := p.free; i != 0 {
		p.free = p.node(i).next
		return i
	}
	if p.used == uint32(len(p.pages))*lruPage {
		p.pages = append(p.pages, make([]lruNode, lruPage))
	}
	p.used++
	return p.used - 1
}

func (p *LRU) unlink(i uint32) {
	n := p.node(i)
	p.node(n.prev).next = n.next
	p.node(n.next).prev = n.prev
}

func (p *LRU) pushFront(i uint32) {
	head := p.node(0)
	first := head.next
	n := p.node(i)
	n.prev, n.next = 0, first
	p.node(first).prev = i
	head.next = i
}
