package hashlist

// List is a doubly linked list of [Arena] nodes, from its newest end to its
// oldest, that keeps its length and the sum of its nodes' costs. The zero
// value is an empty List. Every method takes the Arena that holds the
// nodes; a node is in at most one List at a time.
//
// The methods branch as little as they can (see the package doc): a link
// to [Nil] is written to the Arena's unused node 0 instead of being tested
// for, and the ends are chosen with conditional moves.
type List struct {
	newest, oldest Ref
	n              int
	cost           int64
}

// Len returns the number of nodes in l.
func (l *List) Len() int { return l.n }

// Cost returns the sum of the costs of l's nodes.
func (l *List) Cost() int64 { return l.cost }

// Newest returns the node at l's newest end, or [Nil] if l is empty.
func (l *List) Newest() Ref { return l.newest }

// Oldest returns the node at l's oldest end, or [Nil] if l is empty.
func (l *List) Oldest() Ref { return l.oldest }

// PushNewest links r, which must be in no list, at l's newest end.
func (l *List) PushNewest(a *Arena, r Ref) {
	n := a.node(r)
	prev := l.newest
	n.older = prev         // n.newer is Nil: r is in no list
	a.node(prev).newer = r // node 0 if l is empty
	oldest := l.oldest
	if prev == Nil {
		oldest = r
	}
	l.newest, l.oldest = r, oldest
	l.n++
	l.cost += int64(n.cost)
}

// PushOldest links r, which must be in no list, at l's oldest end.
func (l *List) PushOldest(a *Arena, r Ref) {
	n := a.node(r)
	prev := l.oldest
	n.newer = prev         // n.older is Nil: r is in no list
	a.node(prev).older = r // node 0 if l is empty
	newest := l.newest
	if prev == Nil {
		newest = r
	}
	l.newest, l.oldest = newest, r
	l.n++
	l.cost += int64(n.cost)
}

// Remove unlinks r, which must be in l. The node stays in the Arena.
func (l *List) Remove(a *Arena, r Ref) {
	n := a.node(r)
	newer, older := n.newer, n.older
	a.node(newer).older = older // node 0 if r is the newest
	a.node(older).newer = newer // node 0 if r is the oldest
	newest, oldest := l.newest, l.oldest
	if newer == Nil {
		newest = older
	}
	if older == Nil {
		oldest = newer
	}
	l.newest, l.oldest = newest, oldest
	n.newer, n.older = Nil, Nil
	l.n--
	l.cost -= int64(n.cost)
}

// MoveToNewest moves r, which must be in l, to l's newest end.
func (l *List) MoveToNewest(a *Arena, r Ref) {
	newest := l.newest
	if newest == r {
		return
	}
	// r is not the newest, so it has a newer node, and l's newest stays.
	n := a.node(r)
	newer, older := n.newer, n.older
	a.node(newer).older = older
	a.node(older).newer = newer // node 0 if r is the oldest
	oldest := l.oldest
	if older == Nil {
		oldest = newer
	}
	n.newer, n.older = Nil, newest
	a.node(newest).newer = r
	l.newest, l.oldest = r, oldest
}

// SetCost changes the cost of r, which must be in l, and l's total with it.
// The cost is clamped to [0, 2³²−1], as [Arena.Add] does.
func (l *List) SetCost(a *Arena, r Ref, cost int64) {
	n := a.node(r)
	c := clampCost(cost)
	l.cost += int64(c) - int64(n.cost)
	n.cost = c
}

// EvictOldest takes entries from the oldest end of l until their costs add
// up to need (or l is empty), deletes them from a, and appends their hashes
// to dst: the Evict of any policy that evicts in list order.
func (l *List) EvictOldest(a *Arena, need int64, dst []uint64) []uint64 {
	for need > 0 {
		r := l.oldest
		if r == Nil {
			break
		}
		need -= a.Cost(r)
		dst = append(dst, a.Hash(r))
		l.Remove(a, r)
		a.Delete(r)
	}
	return dst
}
