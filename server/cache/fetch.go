package cache

import (
	"context"
	"errors"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// forward answers a key another node owns: the owner's answer, or, when
// the owner does not answer, the newest record among the key's other
// replicas (for a group without replicas, a load from the source that is
// served but not kept).
func (g *Group) forward(ctx context.Context, key string, h uint64, owner Peer) (Value, error) {
	if !g.cfg.Peers.Suspect(owner) {
		if v, err, answered := g.fetch(ctx, owner, key, h); answered {
			return v, err
		}
	}
	return g.readAround(ctx, key, h, owner)
}

// fetch asks a key's owner for it. answered is false when the owner could
// not be reached.
func (g *Group) fetch(ctx context.Context, owner Peer, key string, h uint64) (v Value, err error, answered bool) {
	ctx, span := g.tracer.Start(ctx, "cache.Fetch", trace.WithAttributes(
		attribute.String("distcache.group", g.cfg.Name)))
	defer span.End()
	g.peerFetches.Add(1)
	var gen uint64
	holder := ""
	if g.hot != nil {
		gen, holder = g.hot.gen(h), g.cfg.Peers.Self()
	}
	asked := g.now()
	v, lease, err := owner.Fetch(ctx, g.cfg.Name, key, holder)
	if errors.Is(err, ErrUnreachable) {
		g.peerFailed(owner, err)
		span.SetStatus(codes.Error, err.Error())
		span.AddEvent("owner unreachable: reading its replicas")
		return Value{}, nil, false
	}
	if err != nil {
		return Value{}, err, true
	}
	if lease > 0 {
		// The lease runs from when we asked, so it ends on our clock no
		// later than on the owner's.
		expires := asked.Add(lease).UnixNano()
		if !v.Expires.IsZero() {
			expires = min(expires, v.Expires.UnixNano())
		}
		if g.hot.offer(key, h, v.Bytes, expires, gen) {
			span.SetAttributes(attribute.Bool("distcache.hot", true))
		}
	}
	v.Source = SourcePeer
	return v, nil, true
}

// readAround answers a key whose owner does not answer. A replicated group
// reads the key's other replicas (this node's store among them) and serves
// the newest record; a group without replicas loads from its source, as
// groupcache does, and keeps nothing: this node does not own the key.
func (g *Group) readAround(ctx context.Context, key string, h uint64, owner Peer) (Value, error) {
	if g.cfg.Replicas > 1 {
		reps := g.cfg.Peers.Replicas(key, g.cfg.Replicas)
		var others []Peer
		var local *entry
		for _, p := range reps {
			switch {
			case p == nil:
				local = g.store.get(key, h)
			case p.ID() != owner.ID():
				others = append(others, p)
			}
		}
		var base *Record
		if local != nil && local.written() && !g.expired(local) {
			r := local.record()
			base = &r
		}
		newest, answered := g.peekAll(ctx, key, others, base)
		if answered == 0 && base == nil {
			return Value{}, fmt.Errorf("group %q: key %q: owner %s and its replicas: %w", g.cfg.Name, key, owner.ID(), ErrUnreachable)
		}
		if newest != nil && !newest.Tomb {
			return Value{Bytes: newest.Value, Expires: newest.Expires, Source: SourcePeer}, nil
		}
		if g.noLoader {
			return Value{}, g.notFound(key)
		}
	} else if g.noLoader {
		return Value{}, fmt.Errorf("group %q: key %q: owner %s: %w", g.cfg.Name, key, owner.ID(), ErrUnreachable)
	}
	return g.loadFromSource(ctx, key, h, 0, 0, false)
}

// peerFailed tells the Peers about a call that did not reach its peer.
func (g *Group) peerFailed(peer Peer, err error) {
	if errors.Is(err, ErrUnreachable) {
		g.peerErrors.Add(1)
		g.cfg.Peers.Unreachable(peer, err)
	}
}

// dropHot removes this node's hot copy of key, if it has one.
func (g *Group) dropHot(key string) {
	if g.hot != nil {
		g.hot.remove(key, g.store.hash(key))
	}
}

// Invalidate drops this node's hot copy of key, and its main-store copy
// unless this node keeps the key as owner or replica; the peer service
// calls it when the key's owner revokes a lease.
func (g *Group) Invalidate(key string) {
	g.dropHot(key)
	if !g.peers {
		return
	}
	for _, p := range g.cfg.Peers.Replicas(key, g.cfg.Replicas) {
		if p == nil {
			return
		}
	}
	h := g.store.hash(key)
	if e := g.store.get(key, h); e != nil {
		g.removeIf(h, e)
	}
}

// removeIf removes h's entry if it is still e, and reports whether it did.
func (g *Group) removeIf(h uint64, e *entry) bool {
	g.pmu.Lock()
	defer g.pmu.Unlock()
	if g.store.peek(h) != e {
		return false
	}
	g.store.shard(h).seq.Add(1)
	g.store.remove(h)
	g.rules.Removed(h)
	g.flushLocked()
	return true
}
