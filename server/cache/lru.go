package cache

// LRU is the native least-recently-used [Policy], the default until a
// group's configured policy plugin is loaded. The zero value is not ready;
// use [NewLRU]. Not safe for concurrent use (the group locks around it).
//
// It keeps its list in one slice of nodes linked by index, with freed
// nodes reused, and an index from key hash to node: about 24 bytes a node
// plus the index's share, and nothing for the garbage collector to scan.
type LRU struct {
	nodes []lruNode // nodes[0] is the list's sentinel: next is the most recent
	free  uint32    // the first free node, chained through next; 0: none
	index map[uint64]uint32
}

type lruNode struct {
	hash       uint64
	cost       int64
	prev, next uint32
}

// NewLRU returns an empty LRU policy.
func NewLRU() *LRU {
	return &LRU{nodes: make([]lruNode, 1), index: make(map[uint64]uint32)}
}

var (
	_ Policy     = (*LRU)(nil)
	_ PolicyName = (*LRU)(nil)
)

// Name returns "lru (native)".
func (p *LRU) Name() string { return "lru (native)" }

// Len returns the number of entries the policy tracks.
func (p *LRU) Len() int { return len(p.index) }

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

// access makes h the most recent, if the policy tracks it.
func (p *LRU) access(h uint64) {
	if i, ok := p.index[h]; ok {
		p.unlink(i)
		p.pushFront(i)
	}
}

// insert makes h the most recent with cost.
func (p *LRU) insert(h uint64, cost int64) {
	if i, ok := p.index[h]; ok {
		p.nodes[i].cost = cost
		p.unlink(i)
		p.pushFront(i)
		return
	}
	i := p.alloc()
	p.nodes[i] = lruNode{hash: h, cost: cost}
	p.pushFront(i)
	p.index[h] = i
}

// remove forgets h, if the policy tracks it.
func (p *LRU) remove(h uint64) {
	i, ok := p.index[h]
	if !ok {
		return
	}
	p.unlink(i)
	delete(p.index, h)
	p.nodes[i] = lruNode{next: p.free}
	p.free = i
}

// oldest returns the least recently used hash and its cost.
func (p *LRU) oldest() (h uint64, cost int64, ok bool) {
	i := p.nodes[0].prev
	if i == 0 {
		return 0, 0, false
	}
	return p.nodes[i].hash, p.nodes[i].cost, true
}

func (p *LRU) alloc() uint32 {
	if i := p.free; i != 0 {
		p.free = p.nodes[i].next
		return i
	}
	p.nodes = append(p.nodes, lruNode{})
	return uint32(len(p.nodes) - 1)
}

func (p *LRU) unlink(i uint32) {
	n := p.nodes[i]
	p.nodes[n.prev].next = n.next
	p.nodes[n.next].prev = n.prev
}

func (p *LRU) pushFront(i uint32) {
	first := p.nodes[0].next
	p.nodes[i].prev, p.nodes[i].next = 0, first
	p.nodes[first].prev = i
	p.nodes[0].next = i
}
