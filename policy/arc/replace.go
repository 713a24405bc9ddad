package main

// Evict implements [policy.Policy]. It runs REPLACE until the victims'
// costs add up to need, excluding the newcomer announced by the last
// insert, then puts the newcomer in its list. If nothing else is left to
// evict, the newcomer itself is named and so refused.
//
// Like hashicorp's ARCCache, REPLACE takes T1's LRU end when T1 holds more
// than p (or exactly p and the newcomer is a B2 ghost hit), else T2's, and
// keeps a ghost of the victim. When that picks an empty T2, hashicorp
// evicts nothing: on a plain miss T1's oldest entry then falls out of its
// bounded LRU without a ghost, and this does the same; on a ghost hit
// hashicorp keeps c+1 entries, which this cannot (see [ARC]).
func (p *ARC) Evict(need int64, dst []uint64) []uint64 {
	var freed int64
	for freed < need {
		h, cost, ok := p.replace(p.pend.active && p.pend.from == b2)
		if !ok {
			if !p.pend.active {
				break
			}
			p.pend.active = false
			dst = append(dst, p.pend.hash)
			break
		}
		dst = append(dst, h)
		freed += cost
	}
	p.settle()
	return dst
}

// replace evicts one resident entry other than the newcomer, keeping a
// ghost of it as REPLACE does, and returns its hash and cost.
func (p *ARC) replace(b2HasNewcomer bool) (uint64, int64, bool) {
	n1 := p.lists[t1].Cost()
	switch {
	case p.lists[t1].Len() > 0 && (n1 > p.p || (n1 == p.p && b2HasNewcomer)):
		return p.demote(t1, b1, true)
	case p.lists[t2].Len() > 0:
		return p.demote(t2, b2, true)
	case p.lists[t1].Len() > 0:
		return p.demote(t1, b1, false)
	}
	return 0, 0, false
}

// demote moves the LRU entry of from to the MRU end of ghosts (when keep)
// and trims ghosts to the capacity, as a bounded LRU does.
func (p *ARC) demote(from, ghosts uint32, keep bool) (uint64, int64, bool) {
	r := p.lists[from].Oldest()
	h, cost := p.a.Hash(r), p.a.Cost(r)
	p.lists[from].Remove(&p.a, r)
	if !keep {
		p.a.Delete(r)
		return h, cost, true
	}
	p.a.SetTag(r, ghosts)
	p.lists[ghosts].PushNewest(&p.a, r)
	for p.lists[ghosts].Cost() > p.capacity {
		p.dropOldest(ghosts)
	}
	return h, cost, true
}

// settle puts a held newcomer in its list: a miss goes to T1's MRU end
// after the ghost lists are trimmed (by at most the newcomer's cost each),
// a ghost hit leaves its ghost list for T2's MRU end.
func (p *ARC) settle() {
	if !p.pend.active {
		return
	}
	n := p.pend
	p.pend.active = false
	if n.from == t1 {
		p.trim(b1, p.capacity-p.p, n.cost)
		p.trim(b2, p.p, n.cost)
		p.lists[t1].PushNewest(&p.a, p.a.Add(n.hash, n.cost, t1))
		return
	}
	if r, ok := p.a.Lookup(n.hash); ok { // REPLACE may have trimmed the ghost away
		p.lists[p.a.Tag(r)].Remove(&p.a, r)
		p.a.Delete(r)
	}
	p.lists[t2].PushNewest(&p.a, p.a.Add(n.hash, n.cost, t2))
}

// trim drops the oldest ghosts while the list exceeds limit, up to budget
// bytes (with unit costs, one ghost: hashicorp trims once per miss).
func (p *ARC) trim(ghosts uint32, limit, budget int64) {
	for dropped := int64(0); p.lists[ghosts].Cost() > limit && dropped < budget; {
		dropped += p.dropOldest(ghosts)
	}
}

func (p *ARC) dropOldest(ghosts uint32) int64 {
	r := p.lists[ghosts].Oldest()
	cost := p.a.Cost(r)
	p.lists[ghosts].Remove(&p.a, r)
	p.a.Delete(r)
	return cost
}
