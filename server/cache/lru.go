package cache

import "container/list"

// LRU is the native least-recently-used [Policy], the default until a
// group's configured policy plugin is loaded. The zero value is not ready;
// use [NewLRU]. Not safe for concurrent use (the group locks around it).
type LRU struct {
	ll    *list.List // front is most recent
	items map[uint64]*list.Element
}

type lruItem struct {
	hash uint64
	cost int64
}

// NewLRU returns an empty LRU policy.
func NewLRU() *LRU {
	return &LRU{ll: list.New(), items: make(map[uint64]*list.Element)}
}

var (
	_ Policy     = (*LRU)(nil)
	_ PolicyName = (*LRU)(nil)
)

// Name returns "lru (native)".
func (p *LRU) Name() string { return "lru (native)" }

// Len returns the number of entries the policy tracks.
func (p *LRU) Len() int { return p.ll.Len() }

// Apply implements [Policy].
func (p *LRU) Apply(events []Event) {
	for _, ev := range events {
		el, ok := p.items[ev.Hash]
		switch ev.Op {
		case OpAccess:
			if ok {
				p.ll.MoveToFront(el)
			}
		case OpInsert, OpUpdate:
			if ok {
				el.Value.(*lruItem).cost = ev.Cost
				p.ll.MoveToFront(el)
				continue
			}
			p.items[ev.Hash] = p.ll.PushFront(&lruItem{hash: ev.Hash, cost: ev.Cost})
		case OpRemove:
			if ok {
				p.ll.Remove(el)
				delete(p.items, ev.Hash)
			}
		}
	}
}

// Evict implements [Policy]: it names the least recently used entries.
func (p *LRU) Evict(need int64, dst []uint64) []uint64 {
	for need > 0 {
		el := p.ll.Back()
		if el == nil {
			break
		}
		it := p.ll.Remove(el).(*lruItem)
		delete(p.items, it.hash)
		dst = append(dst, it.hash)
		need -= it.cost
	}
	return dst
}
