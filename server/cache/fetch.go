package cache

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// fetch asks a key's owner for it. answered is false when the owner could
// not be reached: the caller then loads the key itself.
func (g *Group) fetch(ctx context.Context, peer Peer, key string, h uint64) (v Value, err error, answered bool) {
	ctx, span := g.tracer.Start(ctx, "cache.Fetch", trace.WithAttributes(
		attribute.String("distcache.group", g.cfg.Name)))
	defer span.End()
	g.peerFetches.Add(1)
	v, err = peer.Fetch(ctx, g.cfg.Name, key)
	if errors.Is(err, ErrUnreachable) {
		g.peerFailed(peer, err)
		span.SetStatus(codes.Error, err.Error())
		span.AddEvent("owner unreachable: loading locally")
		return Value{}, nil, false
	}
	if err != nil {
		return Value{}, err, true
	}
	expires := v.Expires.UnixNano()
	if limit := g.now().UnixNano() + HotTTL; v.Expires.IsZero() || expires > limit {
		expires = limit
	}
	if g.hot.offer(key, h, v.Bytes, expires) {
		span.SetAttributes(attribute.Bool("distcache.hot", true))
	}
	v.Source = SourcePeer
	return v, nil, true
}

// loadForUnreachable loads a key whose owner cannot be reached, as
// groupcache does, and keeps the value as a hot copy (bounded in size and
// life), not in the main store: this node does not own it.
func (g *Group) loadForUnreachable(ctx context.Context, key string, h uint64) (Value, error) {
	g.loads.Add(1)
	l, err := g.cfg.Loader.Load(ctx, key)
	switch {
	case errors.Is(err, ErrNotFound):
		return Value{}, g.notFound(key)
	case err != nil:
		g.loadErrors.Add(1)
		return Value{}, &LoadError{Group: g.cfg.Name, Key: key, Err: err}
	}
	expires := g.now().UnixNano() + HotTTL
	g.hot.put(key, l.Value, expires)
	return Value{Bytes: l.Value, Expires: unixTime(expires), Source: SourceLoader}, nil
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
		g.hot.remove(key)
	}
}

// DropHot removes this node's hot copy of key; the peer service calls it
// when the key's owner says the key changed.
func (g *Group) DropHot(key string) { g.dropHot(key) }
