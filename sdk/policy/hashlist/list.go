package hashlist

// List is a doubly linked list of [Arena] nodes, from its newest end to its
// oldest, that keeps its length and the sum of its nodes' costs. The zero
// value is an empty List. Every method takes the Arena that holds the
// nodes; a node is in at most one List at a time.
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
	n := &a.nodes[r]
	n.newer, n.older = Nil, l.newest
	if l.newest != Nil {
		a.nodes[l.newest].newer = r
	} else {
		l.oldest = r
	}
	l.newest = r
	l.n++
	l.cost += n.cost
}

// PushOldest links r, which must be in no list, at l's oldest end.
func (l *List) PushOldest(a *Arena, r Ref) {
	n := &a.nodes[r]
	n.newer, n.older = l.oldest, Nil
	if l.oldest != Nil {
		a.nodes[l.oldest].older = r
	} else {
		l.newest = r
	}
	l.oldest = r
	l.n++
	l.cost += n.cost
}

// Remove unlinks r, which must be in l. The node stays in the Arena.
func (l *List) Remove(a *Arena, r Ref) {
	n := &a.nodes[r]
	if n.newer != Nil {
		a.nodes[n.newer].older = n.older
	} else {
		l.newest = n.older
	}
	if n.older != Nil {
		a.nodes[n.older].newer = n.newer
	} else {
		l.oldest = n.newer
	}
	n.newer, n.older = Nil, Nil
	l.n--
	l.cost -= n.cost
}

// MoveToNewest moves r, which must be in l, to l's newest end.
func (l *List) MoveToNewest(a *Arena, r Ref) {
	if l.newest == r {
		return
	}
	l.Remove(a, r)
	l.PushNewest(a, r)
}

// SetCost changes the cost of r, which must be in l, and l's total with it.
func (l *List) SetCost(a *Arena, r Ref, cost int64) {
	l.cost += cost - a.nodes[r].cost
	a.nodes[r].cost = cost
}
