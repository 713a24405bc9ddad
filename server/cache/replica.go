package cache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// TombstoneTTL is how long a Delete's tombstone is kept. While it is, no
// older record of the key (a replica's, or one handed over after a ring
// change) can bring the key back.
const TombstoneTTL = 5 * time.Minute

// commit stores r as the key's owner: it revokes the hot copies of the key,
// then stores r here and on the key's other replicas. It returns an error
// wrapping [ErrUnreachable] when fewer than a majority of the replicas
// (this node among them) kept r; the write may then still be seen.
func (g *Group) commit(ctx context.Context, r Record) error {
	h := g.store.hash(r.Key)
	if !g.peers && r.Tomb {
		// Alone, nothing older can come back: forget the key.
		g.pmu.Lock()
		g.store.shard(h).seq.Add(1)
		if e := g.store.peek(h); e != nil && e.key() == r.Key {
			g.store.remove(h)
			g.rules.Removed(h)
			g.flushLocked()
		}
		g.pmu.Unlock()
		g.flight.Forget("o:" + r.Key)
		return nil
	}
	if g.peers {
		// Revoke the hot copies before the store shows the new value.
		holders, until := g.leases.beginWrite(r.Key, g.now())
		defer g.leases.endWrite(r.Key)
		if len(holders) > 0 {
			g.cfg.Peers.Invalidate(ctx, g.cfg.Name, r.Key, holders, until)
		}
	}
	if _, err := g.insertRecord(h, r, g.cfg.Peers.View().Epoch); err != nil {
		return err
	}
	g.flight.Forget("o:" + r.Key)
	return g.replicate(ctx, r)
}

// replicate sends r to the key's replicas other than this node and waits
// for a majority of all replicas to keep it.
func (g *Group) replicate(ctx context.Context, r Record) error {
	if g.cfg.Replicas <= 1 {
		return nil
	}
	reps := g.cfg.Peers.Replicas(r.Key, g.cfg.Replicas)
	need := len(reps)/2 + 1 // this node is one of them
	acks := 1
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		errs []error
	)
	for _, p := range reps {
		if p == nil {
			continue
		}
		wg.Go(func() {
			err := p.Replicate(ctx, g.cfg.Name, r)
			g.peerFailed(p, err)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			} else {
				acks++
			}
		})
	}
	wg.Wait()
	if acks < need {
		return fmt.Errorf("group %q: key %q: kept by %d of %d replicas, %d needed: %w (%w)",
			g.cfg.Name, r.Key, acks, len(reps), need, ErrNoQuorum, errors.Join(errs...))
	}
	return nil
}

// newestRecord returns the newest record of key among local (this node's
// entry, if any) and the key's other replicas, or nil when none has one.
// It fails only when no other replica answered and this node has nothing.
func (g *Group) newestRecord(ctx context.Context, key string, local *entry) (*Record, error) {
	var base *Record
	if local != nil && local.written() {
		r := local.record()
		base = &r
	}
	var others []Peer
	for _, p := range g.cfg.Peers.Replicas(key, g.cfg.Replicas) {
		if p != nil {
			others = append(others, p)
		}
	}
	newest, answered := g.peekAll(ctx, key, others, base)
	if answered == 0 && len(others) > 0 {
		// What this node holds may be stale (it took over the key, or
		// its view was uncertain): it answers only what another replica
		// confirms.
		return nil, fmt.Errorf("group %q: key %q: no other replica answered: %w", g.cfg.Name, key, ErrUnreachable)
	}
	if newest != base {
		g.repairs.Add(1)
	}
	return newest, nil
}

// peekAll asks peers for their records of key at once and returns the
// newest of them and base, and how many peers answered.
func (g *Group) peekAll(ctx context.Context, key string, peers []Peer, base *Record) (*Record, int) {
	newest := base
	answered := 0
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	for _, p := range peers {
		wg.Go(func() {
			r, found, err := p.Peek(ctx, g.cfg.Name, key)
			g.peerFailed(p, err)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				return
			}
			answered++
			if found && (newest == nil || r.Version > newest.Version) {
				newest = &r
			}
		})
	}
	wg.Wait()
	if newest != nil && !newest.Expires.IsZero() && !g.now().Before(newest.Expires) {
		if newest.Tomb {
			return nil, answered
		}
		return &Record{Key: key, Version: newest.Version, Tomb: true, Expires: g.now().Add(TombstoneTTL)}, answered
	}
	return newest, answered
}

// Peek returns this node's written record of key, if it holds one that
// has not expired. The peer service calls it.
func (g *Group) Peek(key string) (Record, bool) {
	e := g.store.get(key, g.store.hash(key))
	if e == nil || !e.written() || g.expired(e) {
		return Record{}, false
	}
	return e.record(), true
}

// Replicate keeps r unless this node holds a newer version of its key, and
// reports whether it kept it. Like an owner's write, it first revokes the
// hot-copy leases this node granted on the key (it may be the key's owner
// in some node's view), so no holder serves the old value once this node
// shows the new one. The peer service calls it.
func (g *Group) Replicate(ctx context.Context, r Record) (bool, error) {
	if g.peers {
		holders, until := g.leases.beginWrite(r.Key, g.now())
		defer g.leases.endWrite(r.Key)
		if len(holders) > 0 {
			g.cfg.Peers.Invalidate(ctx, g.cfg.Name, r.Key, holders, until)
		}
	}
	h := g.store.hash(r.Key)
	kept, err := g.insertRecord(h, r, g.cfg.Peers.View().Epoch)
	if kept {
		g.flight.Forget("o:" + r.Key)
		g.dropHot(r.Key)
	}
	return kept, err
}

// Grant records that the node holder may serve a hot copy of key for the
// lease it returns (zero: none), counted from now. An owner grants before
// it reads the value it answers with, so a write that follows revokes it.
func (g *Group) Grant(key, holder string) time.Duration {
	if holder == "" || !g.peers {
		return 0
	}
	return g.leases.grant(key, holder, g.now(), DefaultHotLease)
}

// Rebalance brings the store in line with the current ring: a written
// record this node no longer keeps is handed to the key's replicas and
// then dropped; a loaded entry it no longer owns is dropped; hot copies
// are dropped (their owners may have changed). A written record this node
// owns is sent to replicas that may lack it. Records go in batches (see
// handoffBatchBytes); limit, if set, is called with each batch's size
// before it is sent and may block to bound the rate. Rebalance stops when
// ctx is done and returns how many records it handed over and how many
// entries it dropped. The node calls it after every ring change.
func (g *Group) Rebalance(ctx context.Context, limit func(context.Context, int) error) (handed, dropped int) {
	if !g.peers {
		return 0, 0
	}
	if g.hot != nil {
		g.hot.purge()
	}
	type item struct {
		h uint64
		e *entry
	}
	var items []item
	g.store.each(func(e *entry) { items = append(items, item{g.store.hash(e.key()), e}) })
	// Records to send, by peer; and the entries to drop once every peer
	// they went to kept them.
	type batch struct {
		peer  Peer
		items []item
		bytes int
	}
	batches := map[string]*batch{}
	sentTo := map[uint64]int{} // entries leaving: peers still to confirm
	failed := map[uint64]bool{}
	flush := func(b *batch) {
		if len(b.items) == 0 {
			return
		}
		if limit != nil && limit(ctx, len(b.items)) != nil {
			b.items, b.bytes = b.items[:0], 0
			return
		}
		rs := make([]Record, len(b.items))
		for i, it := range b.items {
			rs[i] = it.e.record()
		}
		err := b.peer.Replicate(ctx, g.cfg.Name, rs...)
		g.peerFailed(b.peer, err)
		for _, it := range b.items {
			if err != nil {
				failed[it.h] = true
			} else {
				handed++
			}
			if n, leaving := sentTo[it.h]; leaving {
				if sentTo[it.h] = n - 1; n == 1 && !failed[it.h] && g.removeIf(it.h, it.e) {
					dropped++
				}
			}
		}
		b.items, b.bytes = b.items[:0], 0
	}
	for _, it := range items {
		if ctx.Err() != nil {
			break
		}
		reps := g.cfg.Peers.Replicas(it.e.key(), g.cfg.Replicas)
		mine, owner := false, len(reps) > 0 && reps[0] == nil
		for _, p := range reps {
			mine = mine || p == nil
		}
		switch {
		case !it.e.written() && !mine:
			if g.removeIf(it.h, it.e) {
				dropped++
			}
		case it.e.written() && (!mine || owner) && !g.expired(it.e):
			var dest []Peer
			for _, p := range reps {
				if p != nil {
					dest = append(dest, p)
				}
			}
			if !mine && len(dest) > 0 {
				sentTo[it.h] = len(dest)
			}
			for _, p := range dest {
				b := batches[p.ID()]
				if b == nil {
					b = &batch{peer: p}
					batches[p.ID()] = b
				}
				size := int(it.e.klen&keyLenMask) + int(it.e.vlen) + recordOverhead
				if b.bytes+size > handoffBatchBytes || len(b.items) == handoffBatchRecords {
					flush(b)
				}
				b.items = append(b.items, it)
				b.bytes += size
			}
		}
	}
	for _, b := range batches {
		if ctx.Err() == nil {
			flush(b)
		}
	}
	g.handoffs.Add(int64(handed))
	g.dropped.Add(int64(dropped))
	return handed, dropped
}

// A hand-off batch holds at most handoffBatchRecords records of at most
// handoffBatchBytes in all (a larger record goes alone): well under the
// smallest request a node reads (its largest value plus 16 KiB).
const (
	handoffBatchRecords = 256
	handoffBatchBytes   = 12 << 10
	recordOverhead      = 32 // version, ttl and framing of one record
)
