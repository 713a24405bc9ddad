package trace

import (
	"errors"
	"math"
	"runtime"
	"sync"
)

// never is the next use of a request whose key is not requested again.
const never = math.MaxUint32

// Future is a trace indexed by what comes next: for each request, the
// position of the next request of the same key. It is what Belady's OPT
// needs, and it counts the distinct keys on the way. A Future is
// read-only once made, so any number of goroutines may replay it at once.
type Future struct {
	ids      []uint32 // ids[i]: the dense id of the key of request i
	next     []uint32 // next[i]: the next request of the same key, or never
	sizes    []uint32 // the trace's sizes, or nil
	distinct int
	bytes    int64 // sum of each distinct key's size at its first request
}

// NewFuture indexes a trace: keys, and their sizes or nil. It shards the
// keys by hash over GOMAXPROCS goroutines, each with its own map.
// sizes, if not nil, must be as long as keys and must not change while
// the Future is in use.
func NewFuture(keys []uint64, sizes []uint32) (*Future, error) {
	if len(keys) > MaxRequests {
		return nil, errors.New("trace: future: more requests than 32-bit positions hold")
	}
	if sizes != nil && len(sizes) != len(keys) {
		return nil, errors.New("trace: future: sizes and keys differ in length")
	}
	f := &Future{ids: make([]uint32, len(keys)), next: make([]uint32, len(keys)), sizes: sizes}
	shards := 1
	if len(keys) >= 1<<16 {
		shards = min(runtime.GOMAXPROCS(0), 256)
	}
	// Each request's shard, computed once, in parallel: the shards then
	// read a byte a request to find theirs.
	var shardOf []uint8
	if shards > 1 {
		shardOf = make([]uint8, len(keys))
		parallel(len(keys), shards, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				shardOf[i] = uint8((Mix(keys[i]) >> 32) * uint64(shards) >> 32)
			}
		})
	}
	counts := make([]int, shards)
	bytes := make([]int64, shards)
	var wg sync.WaitGroup
	for s := range shards {
		wg.Go(func() { counts[s], bytes[s] = f.indexShard(keys, shardOf, uint8(s)) })
	}
	wg.Wait()
	// Each shard numbered its keys from 0: offset them into one range.
	offsets := make([]uint32, shards)
	for s := range shards {
		f.distinct += counts[s]
		f.bytes += bytes[s]
		if s+1 < shards {
			offsets[s+1] = offsets[s] + uint32(counts[s])
		}
	}
	if shards > 1 {
		parallel(len(keys), shards, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				f.ids[i] += offsets[shardOf[i]]
			}
		})
	}
	return f, nil
}

// parallel calls fn on ranges of 0..n, about n/parts long, on as many
// goroutines.
func parallel(n, parts int, fn func(lo, hi int)) {
	var wg sync.WaitGroup
	per := max(1, (n+parts-1)/parts)
	for lo := 0; lo < n; lo += per {
		wg.Go(func() { fn(lo, min(n, lo+per)) })
	}
	wg.Wait()
}

// indexShard fills ids and next for the requests of shard s (all of them
// when shardOf is nil) and returns its distinct keys and bytes.
func (f *Future) indexShard(keys []uint64, shardOf []uint8, s uint8) (int, int64) {
	seen := make(map[uint64]uint32)
	var last []uint32 // by id: the latest request
	var bytes int64
	for i, k := range keys {
		if shardOf != nil && shardOf[i] != s {
			continue
		}
		id, ok := seen[k]
		if !ok {
			id = uint32(len(last))
			seen[k] = id
			last = append(last, never)
			if f.sizes != nil {
				bytes += int64(f.sizes[i])
			}
		}
		if p := last[id]; p != never {
			f.next[p] = uint32(i)
		}
		last[id] = uint32(i)
		f.ids[i] = id
	}
	for _, p := range last {
		f.next[p] = never
	}
	return len(last), bytes
}

// Len returns the number of requests.
func (f *Future) Len() int { return len(f.ids) }

// Distinct returns the number of distinct keys.
func (f *Future) Distinct() int { return f.distinct }

// DistinctBytes returns the sum of the sizes of the distinct keys, each
// at its first request (0 without sizes).
func (f *Future) DistinctBytes() int64 { return f.bytes }

// OPT returns the hits of Belady's MIN over the trace with a cache of
// capacity entries: on a miss, of the residents and the newcomer, the one
// whose next request is furthest away is left out (a key never requested
// again is not admitted). No cache that holds capacity entries, admitting
// or not, hits more often. It takes O(n log capacity) time.
func (f *Future) OPT(capacity int) int64 {
	if capacity <= 0 {
		return 0
	}
	h := f.newHeap(min(capacity, f.distinct))
	var hits int64
	for i, id := range f.ids {
		nx := f.next[i]
		if h.has(id) {
			hits++
			h.update(id, nx)
			continue
		}
		switch {
		case nx == never:
		case len(h.ids) < capacity:
			h.push(id, nx)
		case h.next[h.ids[0]] > nx:
			h.replaceTop(id, nx)
		}
	}
	return hits
}

// OPTSized returns the hits of the furthest-next-use rule over a trace
// with sizes with a cache of capacity bytes: on a miss, while the
// newcomer does not fit, the resident requested furthest away is evicted
// if that is further than the newcomer's next request; else the newcomer
// is not admitted. Each object costs its size at the request that admits
// it (0 counts as 1); one larger than capacity is not admitted. With
// sizes this rule is a heuristic (libCacheSim's BeladySize is the same),
// not an optimum and not an upper bound: finding the optimum is NP-hard.
// It panics if the Future was made without sizes.
func (f *Future) OPTSized(capacity int64) int64 {
	if f.sizes == nil {
		panic("trace: OPTSized of a Future without sizes")
	}
	h := f.newHeap(0)
	cost := make([]uint32, f.distinct)
	var used int64
	var hits int64
	for i, id := range f.ids {
		nx := f.next[i]
		if h.has(id) {
			hits++
			h.update(id, nx)
			continue
		}
		c := int64(max(f.sizes[i], 1))
		if nx == never || c > capacity {
			continue
		}
		for used+c > capacity && h.next[h.ids[0]] > nx {
			v := h.pop()
			used -= int64(cost[v])
		}
		if used+c <= capacity {
			cost[id] = uint32(c)
			used += c
			h.push(id, nx)
		}
	}
	return hits
}

// ReplayOPT collects r and returns the hits of [Future.OPT] with capacity
// entries: Belady's OPT as a Reference-style function. Replaying many
// capacities, make one Future and call its OPT.
func ReplayOPT(r Reader, capacity int) (hits, total int64, err error) {
	keys, err := Collect(r)
	if err != nil {
		return 0, 0, err
	}
	f, err := NewFuture(keys, nil)
	if err != nil {
		return 0, 0, err
	}
	return f.OPT(capacity), int64(len(keys)), nil
}

// optHeap is a max-heap of resident ids by next request, indexed so that
// a resident's position is found in O(1).
type optHeap struct {
	ids  []uint32 // the heap
	pos  []int32  // by id: index in ids, or -1
	next []uint32 // by id: the next request of a resident
}

func (f *Future) newHeap(capacity int) *optHeap {
	h := &optHeap{ids: make([]uint32, 0, capacity), pos: make([]int32, f.distinct), next: make([]uint32, f.distinct)}
	for i := range h.pos {
		h.pos[i] = -1
	}
	return h
}

func (h *optHeap) has(id uint32) bool { return h.pos[id] >= 0 }

func (h *optHeap) push(id, next uint32) {
	h.next[id] = next
	h.pos[id] = int32(len(h.ids))
	h.ids = append(h.ids, id)
	h.up(len(h.ids) - 1)
}

// update moves resident id's next request later, to next.
func (h *optHeap) update(id, next uint32) {
	h.next[id] = next
	h.up(int(h.pos[id]))
}

// replaceTop evicts the furthest resident for id.
func (h *optHeap) replaceTop(id, next uint32) {
	h.pos[h.ids[0]] = -1
	h.ids[0] = id
	h.next[id] = next
	h.pos[id] = 0
	h.down(0)
}

// pop evicts the furthest resident and returns it.
func (h *optHeap) pop() uint32 {
	top := h.ids[0]
	last := len(h.ids) - 1
	h.swap(0, last)
	h.ids = h.ids[:last]
	h.pos[top] = -1
	if last > 0 {
		h.down(0)
	}
	return top
}

func (h *optHeap) less(i, j int) bool { return h.next[h.ids[i]] > h.next[h.ids[j]] }

func (h *optHeap) swap(i, j int) {
	h.ids[i], h.ids[j] = h.ids[j], h.ids[i]
	h.pos[h.ids[i]] = int32(i)
	h.pos[h.ids[j]] = int32(j)
}

func (h *optHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(i, p) {
			return
		}
		h.swap(i, p)
		i = p
	}
}

func (h *optHeap) down(i int) {
	for {
		l := 2*i + 1
		if l >= len(h.ids) {
			return
		}
		c := l
		if r := l + 1; r < len(h.ids) && h.less(r, l) {
			c = r
		}
		if !h.less(c, i) {
			return
		}
		h.swap(i, c)
		i = c
	}
}
