package policytest

import "container/list"

// Reference is a textbook simulation of an eviction algorithm, to compare
// a policy with (see [Compare]): it replays keys through an empty cache
// of capacity entries, every key an entry of size one, and returns how
// many requests hit. A miss stores the key, making room first the way
// the algorithm's authors describe: these simulations evict before they
// insert, so the newcomer is never a candidate for its own eviction. A
// capacity below 1 stores nothing.
//
// The simulations here ([LRU], [FIFO], [CLOCK], [SIEVE], [S3FIFO]) favour
// plainness over speed, so that they can be checked against the papers
// by reading them.
type Reference func(keys []uint64, capacity int) (hits int)

// LRU is the [Reference] of least-recently-used eviction: a hit moves the
// key to the front of a list, and a miss evicts the key at the back.
func LRU(keys []uint64, capacity int) (hits int) {
	if capacity < 1 {
		return 0
	}
	order := list.New() // of uint64, front most recently used
	at := make(map[uint64]*list.Element)
	for _, k := range keys {
		if e, ok := at[k]; ok {
			hits++
			order.MoveToFront(e)
			continue
		}
		if order.Len() == capacity {
			delete(at, order.Remove(order.Back()).(uint64))
		}
		at[k] = order.PushFront(k)
	}
	return hits
}

// FIFO is the [Reference] of first-in, first-out eviction: a miss evicts
// the key stored the longest ago, and a hit changes nothing.
func FIFO(keys []uint64, capacity int) (hits int) {
	if capacity < 1 {
		return 0
	}
	ring := make([]uint64, 0, capacity)
	oldest := 0 // the slot of the oldest key once the ring is full
	in := make(map[uint64]bool)
	for _, k := range keys {
		if in[k] {
			hits++
			continue
		}
		in[k] = true
		if len(ring) < capacity {
			ring = append(ring, k)
			continue
		}
		delete(in, ring[oldest])
		ring[oldest] = k
		oldest = (oldest + 1) % capacity
	}
	return hits
}

// CLOCK is the [Reference] of CLOCK (Corbató, 1968), also called
// second chance or FIFO-reinsertion: the keys sit in a ring of capacity
// slots, each with a reference bit that a hit sets. A miss in a full
// ring advances the hand past keys whose bit is set, clearing it, evicts
// the first key whose bit is clear, stores the newcomer in its slot with
// the bit clear, and moves the hand one slot on.
func CLOCK(keys []uint64, capacity int) (hits int) {
	if capacity < 1 {
		return 0
	}
	slots := make([]uint64, 0, capacity)
	ref := make([]bool, capacity)
	slot := make(map[uint64]int)
	hand := 0
	for _, k := range keys {
		if i, ok := slot[k]; ok {
			hits++
			ref[i] = true
			continue
		}
		if len(slots) < capacity {
			slot[k] = len(slots)
			slots = append(slots, k)
			continue
		}
		for ref[hand] {
			ref[hand] = false
			hand = (hand + 1) % capacity
		}
		delete(slot, slots[hand])
		slots[hand], slot[k] = k, hand
		hand = (hand + 1) % capacity
	}
	return hits
}

// SIEVE is the [Reference] of SIEVE (Zhang et al., "SIEVE is Simpler
// than LRU", NSDI 2024), as its Algorithm 1 states it: keys sit in a
// queue, newcomers at the head, each with a visited bit that a hit sets.
// A miss in a full cache takes the key at the hand (at the tail when the
// hand points nowhere), and while that key's bit is set, clears it and
// moves towards the head, going back to the tail after the head. It
// evicts the first key whose bit is clear, leaves the hand at the next
// key towards the head (nowhere if there is none), and inserts the
// newcomer at the head with its bit clear.
func SIEVE(keys []uint64, capacity int) (hits int) {
	if capacity < 1 {
		return 0
	}
	type entry struct {
		key     uint64
		visited bool
	}
	queue := list.New() // of *entry, front is the head
	at := make(map[uint64]*list.Element)
	var hand *list.Element
	for _, k := range keys {
		if e, ok := at[k]; ok {
			hits++
			e.Value.(*entry).visited = true
			continue
		}
		if queue.Len() == capacity {
			o := hand
			if o == nil {
				o = queue.Back()
			}
			for o.Value.(*entry).visited {
				o.Value.(*entry).visited = false
				if o = o.Prev(); o == nil {
					o = queue.Back()
				}
			}
			hand = o.Prev()
			delete(at, queue.Remove(o).(*entry).key)
		}
		at[k] = queue.PushFront(&entry{key: k})
	}
	return hits
}

// S3FIFO is the [Reference] of S3-FIFO (Yang et al., "FIFO queues are all
// you need for cache eviction", SOSP 2023), as its Algorithm 1 states it,
// with the choices noted below. A resident key is in a small FIFO queue S
// or a main one M, with a frequency that a hit raises, capped at 3; a
// newcomer has frequency 0. Evicted keys of S are remembered in a ghost
// FIFO queue G, which holds as many keys as M's share of the cache and
// forgets its oldest beyond that.
//
// S's share is capacity/10 entries (rounded down) and M's the rest. A
// miss in a full cache evicts once, then stores the newcomer at the head
// of M if G holds it (taking it out of G), else at the head of S. To
// evict once:
//
//   - from S if it holds at least its share, or if M is empty; else from
//     M;
//   - from S: while nothing is evicted, take S's tail; if its frequency is
//     above 1, move it to M's head, and if M then holds more than its
//     share, evict from M; else evict it into G.
//   - from M: while nothing is evicted, take M's tail; if its frequency is
//     above 0, put it back at M's head with its frequency less 1; else
//     evict it.
//
// The choices: Algorithm 1 says neither what a key's frequency becomes
// when it moves from S to M nor what "M is full" means. The paper's text
// says a key's access bits are cleared on the move, and the authors'
// libCacheSim (S3FIFOv0.c) does so: here its frequency becomes 0. M is
// full when it holds more than its share. Falling back to M when S is
// empty and to S when M is empty keeps a cache of fewer than 10 entries
// (S's share 0) from evicting nothing. Whether a newcomer is in G is
// asked after the eviction, as Algorithm 1's INSERT does, so a newcomer
// the eviction pushed out of G goes to S.
func S3FIFO(keys []uint64, capacity int) (hits int) {
	if capacity < 1 {
		return 0
	}
	smallShare := capacity / 10
	mainShare := capacity - smallShare
	type entry struct {
		key  uint64
		freq int
	}
	small, main := list.New(), list.New() // of *entry, front is the head
	ghost := list.New()                   // of uint64, front is the head
	at := make(map[uint64]*list.Element)
	ghostAt := make(map[uint64]*list.Element)

	evictMain := func() {
		for main.Len() > 0 {
			t := main.Back()
			e := t.Value.(*entry)
			if e.freq > 0 {
				e.freq--
				main.MoveToFront(t)
				continue
			}
			main.Remove(t)
			delete(at, e.key)
			return
		}
	}
	evictSmall := func() {
		for small.Len() > 0 {
			t := small.Back()
			e := small.Remove(t).(*entry)
			if e.freq > 1 {
				e.freq = 0
				at[e.key] = main.PushFront(e)
				if main.Len() > mainShare {
					evictMain()
				}
				continue
			}
			delete(at, e.key)
			ghostAt[e.key] = ghost.PushFront(e.key)
			if ghost.Len() > mainShare {
				delete(ghostAt, ghost.Remove(ghost.Back()).(uint64))
			}
			return
		}
	}

	for _, k := range keys {
		if el, ok := at[k]; ok {
			hits++
			e := el.Value.(*entry)
			e.freq = min(e.freq+1, 3)
			continue
		}
		for small.Len()+main.Len() >= capacity {
			if small.Len() > 0 && (small.Len() >= smallShare || main.Len() == 0) {
				evictSmall()
			} else {
				evictMain()
			}
		}
		if g, ok := ghostAt[k]; ok {
			ghost.Remove(g)
			delete(ghostAt, k)
			at[k] = main.PushFront(&entry{key: k})
		} else {
			at[k] = small.PushFront(&entry{key: k})
		}
	}
	return hits
}
