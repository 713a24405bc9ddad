package cache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// BatchParallel bounds the keys of one batch that block at once on a node
// (loads, fetches around an owner that does not answer, writes as owner):
// a batch of n keys may take ceil(n/BatchParallel) times as long as one
// key's call.
const BatchParallel = 64

// Result is one key's answer in [Group.GetMany]: what [Group.Get] would
// have returned for it.
type Result struct {
	Value Value
	Err   error
}

// Entry is one write of [Group.SetMany]: what [Group.Set] takes. TTL is
// as there: [GroupTTL] for the group's, zero for forever.
type Entry struct {
	Key   string
	Value []byte
	TTL   time.Duration
}

// Fetched is an owner's answer to one key of [BatchPeer.FetchMany]: what
// [Peer.Fetch] would have returned for it.
type Fetched struct {
	Value Value
	Lease time.Duration
	Err   error
}

// BatchPeer is a [Peer] that also takes many keys of one group in one
// call. Each key is answered on its own, exactly as the single-key call
// would answer it; the error returned beside the answers is the whole
// call's (the peer was not reached, or refused the call), and then the
// answers are nil. A group sends a batch to an owner that is not a
// BatchPeer one key at a time.
type BatchPeer interface {
	Peer
	// FetchMany is [Peer.Fetch] for each of keys.
	FetchMany(ctx context.Context, group string, keys []string, holder string) ([]Fetched, error)
	// StoreMany is [Peer.Store] for each of entries.
	StoreMany(ctx context.Context, group string, entries []Entry) ([]error, error)
	// RemoveMany is [Peer.Remove] for each of keys.
	RemoveMany(ctx context.Context, group string, keys []string) ([]error, error)
}

// GetCached answers key as [Group.Get] would when it can without
// blocking: from this node's store (a key it owns, in an entry it trusts)
// or a hot copy. hit is false when Get would have to load or fetch the
// key; then nothing was counted, and Get answers it. The pipeline calls it
// to answer hits without handing them to another goroutine.
func (g *Group) GetCached(key string) (v Value, err error, hit bool) {
	_, remote := g.route(key, false)
	return g.cached(key, g.store.hash(key), remote)
}

// ownerBatch is the keys of a batch one remote owner answers.
type ownerBatch struct {
	peer Peer
	idx  []int    // indexes into the batch
	hash []uint64 // the keys' hashes, by position in idx
}

// batchByOwner groups a batch's remote keys by owner.
type batchByOwner map[string]*ownerBatch

func (b *batchByOwner) add(owner Peer, i int, h uint64) {
	if *b == nil {
		*b = batchByOwner{}
	}
	ob := (*b)[owner.ID()]
	if ob == nil {
		ob = &ownerBatch{peer: owner}
		(*b)[owner.ID()] = ob
	}
	ob.idx = append(ob.idx, i)
	ob.hash = append(ob.hash, h)
}

// each calls fn(0) ... fn(n-1), on up to BatchParallel goroutines unless
// inline (then in order, on this one), and returns when all returned.
func each(n int, inline bool, fn func(int)) {
	if inline || n <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(n, BatchParallel) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				fn(i)
			}
		})
	}
	wg.Wait()
}

// GetMany is [Group.Get] for each of keys, answered in order. Hits are
// answered at once; misses this node owns are loaded in parallel, and the
// keys of each other owner are fetched in one call ([BatchPeer]), all
// owners in parallel. Each key's answer is the one Get would have given:
// a key whose owner does not answer is read around it as Get would read
// it. It is safe for concurrent use; the values are shared with the
// cache and must not be modified.
func (g *Group) GetMany(ctx context.Context, keys []string) []Result {
	var span trace.Span
	if trace.SpanFromContext(ctx).IsRecording() {
		ctx, span = g.tracer.Start(ctx, "cache.GetMany", trace.WithAttributes(
			attribute.String("distcache.group", g.cfg.Name), attribute.Int("distcache.keys", len(keys))))
		defer span.End()
	}
	res := make([]Result, len(keys))
	type miss struct {
		i      int
		h      uint64
		owner  Peer
		remote bool
	}
	var misses []miss
	var remote batchByOwner
	for i, key := range keys {
		h := g.store.hash(key)
		owner, isRemote := g.route(key, false)
		if v, err, hit := g.cached(key, h, isRemote); hit {
			res[i] = Result{Value: v, Err: err}
			continue
		}
		g.misses.Add(1)
		if _, batches := owner.(BatchPeer); isRemote && batches && !g.cfg.Peers.Suspect(owner) {
			remote.add(owner, i, h)
			continue
		}
		misses = append(misses, miss{i: i, h: h, owner: owner, remote: isRemote})
	}
	var wg sync.WaitGroup
	for _, ob := range remote {
		wg.Go(func() { g.fetchMany(ctx, ob, keys, res) })
	}
	each(len(misses), false, func(j int) {
		m := misses[j]
		v, err := g.load(ctx, keys[m.i], m.h, m.owner, m.remote)
		res[m.i] = Result{Value: v, Err: err}
	})
	wg.Wait()
	return res
}

// fetchMany asks one owner for its keys of a batch in one call, as
// [Group.fetch] asks for one: hot copies kept under the leases granted,
// and keys the owner did not answer read around it.
func (g *Group) fetchMany(ctx context.Context, ob *ownerBatch, keys []string, res []Result) {
	ctx, cancel := context.WithTimeout(ctx, g.cfg.LoadTimeout)
	defer cancel()
	ctx, span := g.tracer.Start(ctx, "cache.FetchMany", trace.WithAttributes(
		attribute.String("distcache.group", g.cfg.Name), attribute.Int("distcache.keys", len(ob.idx))))
	defer span.End()
	g.peerFetches.Add(int64(len(ob.idx)))
	gens := make([]uint64, len(ob.idx))
	holder := ""
	if g.hot != nil {
		holder = g.cfg.Peers.Self()
		for j, h := range ob.hash {
			gens[j] = g.hot.gen(h)
		}
	}
	asked := g.now()
	ks := make([]string, len(ob.idx))
	for j, i := range ob.idx {
		ks[j] = keys[i]
	}
	fs, err := ob.peer.(BatchPeer).FetchMany(ctx, g.cfg.Name, ks, holder)
	if err == nil && len(fs) != len(ks) {
		err = fmt.Errorf("owner %s answered %d of %d keys", ob.peer.ID(), len(fs), len(ks))
	}
	var around []int // positions in ob.idx the owner did not answer
	switch {
	case errors.Is(err, ErrUnreachable):
		for j := range ob.idx {
			around = append(around, j)
		}
	case err != nil:
		span.SetStatus(codes.Error, err.Error())
		for _, i := range ob.idx {
			res[i] = Result{Err: err}
		}
		return
	default:
		for j, f := range fs {
			i := ob.idx[j]
			if errors.Is(f.Err, ErrUnreachable) {
				around = append(around, j)
				continue
			}
			if f.Err != nil {
				res[i] = Result{Err: f.Err}
				continue
			}
			if f.Lease > 0 && g.hot != nil {
				expires := asked.Add(f.Lease).UnixNano()
				if !f.Value.Expires.IsZero() {
					expires = min(expires, f.Value.Expires.UnixNano())
				}
				g.hot.offer(keys[i], ob.hash[j], f.Value.Bytes, expires, gens[j])
			}
			f.Value.Source = SourcePeer
			res[i] = Result{Value: f.Value}
		}
	}
	if len(around) == 0 {
		return
	}
	unreachable := err
	if unreachable == nil {
		unreachable = fs[around[0]].Err
	}
	g.peerFailed(ob.peer, unreachable)
	span.AddEvent("owner unreachable: reading its replicas")
	each(len(around), false, func(k int) {
		j := around[k]
		i := ob.idx[j]
		v, err := g.readAround(ctx, keys[i], ob.hash[j], ob.peer)
		res[i] = Result{Value: v, Err: err}
	})
}

// GetManyLocal answers keys as their owner, each as the peer service
// answers a Fetch: a lease for holder granted before the key is read
// (kept only with a value), from the store or by a load; never forwarded.
// The peer service calls it.
func (g *Group) GetManyLocal(ctx context.Context, keys []string, holder string) []Fetched {
	res := make([]Fetched, len(keys))
	var slow []int
	for i, key := range keys {
		// Grant before reading: a write that follows revokes it.
		res[i].Lease = g.Grant(key, holder)
		v, err, hit := g.cached(key, g.store.hash(key), false)
		if !hit {
			slow = append(slow, i)
			continue
		}
		res[i].Value, res[i].Err = v, err
	}
	each(len(slow), false, func(j int) {
		i := slow[j]
		res[i].Value, res[i].Err = g.get(ctx, keys[i], true)
	})
	for i := range res {
		if res[i].Err != nil {
			res[i].Lease = 0
		}
	}
	return res
}

// SetMany is [Group.Set] for each of entries, answered in order: the
// entries this node owns are stored here, each other owner's in one call
// ([BatchPeer]), all owners in parallel. The entries are applied
// concurrently, so an entry given twice ends with either value. The group
// takes ownership of the values.
func (g *Group) SetMany(ctx context.Context, entries []Entry) []error {
	errs := make([]error, len(entries))
	var local []int
	var remote batchByOwner
	for i, e := range entries {
		if owner, isRemote := g.cfg.Peers.Owner(e.Key); isRemote {
			remote.add(owner, i, 0)
			continue
		}
		local = append(local, i)
	}
	var wg sync.WaitGroup
	for _, ob := range remote {
		wg.Go(func() {
			keys := make([]string, len(ob.idx))
			for j, i := range ob.idx {
				keys[j] = entries[i].Key
			}
			g.forwardMany(ob, keys, errs,
				func(bp BatchPeer) ([]error, error) {
					sub := make([]Entry, len(ob.idx))
					for j, i := range ob.idx {
						sub[j] = entries[i]
					}
					return bp.StoreMany(ctx, g.cfg.Name, sub)
				},
				func(j int) error {
					e := entries[ob.idx[j]]
					return ob.peer.Store(ctx, g.cfg.Name, e.Key, e.Value, e.TTL)
				})
		})
	}
	each(len(local), g.writesInline(), func(j int) {
		e := entries[local[j]]
		errs[local[j]] = g.SetLocal(ctx, e.Key, e.Value, e.TTL)
	})
	wg.Wait()
	return errs
}

// DeleteMany is [Group.Delete] for each of keys, answered in order, sent
// to owners as [Group.SetMany] sends its entries.
func (g *Group) DeleteMany(ctx context.Context, keys []string) []error {
	errs := make([]error, len(keys))
	var local []int
	var remote batchByOwner
	for i, key := range keys {
		if owner, isRemote := g.cfg.Peers.Owner(key); isRemote {
			remote.add(owner, i, 0)
			continue
		}
		local = append(local, i)
	}
	var wg sync.WaitGroup
	for _, ob := range remote {
		wg.Go(func() {
			sub := make([]string, len(ob.idx))
			for j, i := range ob.idx {
				sub[j] = keys[i]
			}
			g.forwardMany(ob, sub, errs,
				func(bp BatchPeer) ([]error, error) { return bp.RemoveMany(ctx, g.cfg.Name, sub) },
				func(j int) error { return ob.peer.Remove(ctx, g.cfg.Name, sub[j]) })
		})
	}
	each(len(local), g.writesInline(), func(j int) {
		errs[local[j]] = g.DeleteLocal(ctx, keys[local[j]])
	})
	wg.Wait()
	return errs
}

// forwardMany sends one owner's writes of a batch as [Group.forwardWrite]
// sends one: refused at once while the owner is suspect, hot copies
// dropped first; in one call (many) to a [BatchPeer], else one call per
// key (one). It fills errs at ob.idx.
func (g *Group) forwardMany(ob *ownerBatch, keys []string, errs []error,
	many func(BatchPeer) ([]error, error), one func(j int) error) {
	if g.cfg.Peers.Suspect(ob.peer) {
		g.peerErrors.Add(int64(len(keys)))
		for j, i := range ob.idx {
			errs[i] = fmt.Errorf("owner %s of key %q did not answer a moment ago: %w", ob.peer.ID(), keys[j], ErrUnreachable)
		}
		return
	}
	for _, key := range keys {
		g.dropHot(key)
	}
	bp, ok := ob.peer.(BatchPeer)
	if !ok {
		each(len(keys), false, func(j int) {
			err := one(j)
			g.peerFailed(ob.peer, err)
			errs[ob.idx[j]] = err
		})
		return
	}
	res, err := many(bp)
	if err == nil && len(res) != len(keys) {
		err = fmt.Errorf("owner %s answered %d of %d keys", ob.peer.ID(), len(res), len(keys))
	}
	g.peerFailed(ob.peer, err)
	for j, i := range ob.idx {
		if err != nil {
			errs[i] = err
		} else {
			errs[i] = res[j]
		}
	}
}

// SetManyLocal is [Group.SetLocal] for each of entries, answered in
// order. The peer service calls it.
func (g *Group) SetManyLocal(ctx context.Context, entries []Entry) []error {
	errs := make([]error, len(entries))
	each(len(entries), g.writesInline(), func(i int) {
		errs[i] = g.SetLocal(ctx, entries[i].Key, entries[i].Value, entries[i].TTL)
	})
	return errs
}

// DeleteManyLocal is [Group.DeleteLocal] for each of keys, answered in
// order. The peer service calls it.
func (g *Group) DeleteManyLocal(ctx context.Context, keys []string) []error {
	errs := make([]error, len(keys))
	each(len(keys), g.writesInline(), func(i int) {
		errs[i] = g.DeleteLocal(ctx, keys[i])
	})
	return errs
}

// writesInline reports whether a write as owner never blocks (a node
// alone, no write-through), so a batch's writes run in order on the
// caller's goroutine.
func (g *Group) writesInline() bool {
	return !g.peers && g.cfg.Writer == nil
}
