package api

import (
	"context"
	"errors"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"

	distcachev1 "github.com/distcache/distcache/gen/distcache/v1"
	"github.com/distcache/distcache/gen/distcache/v1/distcachev1connect"
	"github.com/distcache/distcache/server/cache"
	"github.com/distcache/distcache/server/cluster"
)

// peerService answers other nodes as the owner of the keys they ask for.
type peerService struct {
	cs *cacheService
}

var _ distcachev1connect.PeerServiceHandler = (*peerService)(nil)

// errorFromOwner is errorFromCache, except that a failure of this node's
// own source says so (cluster.CodeOwnerFailed): the caller reached the
// owner and must not load in its place.
func errorFromOwner(err error) error {
	var le *cache.LoadError
	var we *cache.WriteError
	switch {
	case errors.As(err, &le) || errors.As(err, &we):
		return connect.NewError(cluster.CodeOwnerFailed, err)
	case errors.Is(err, cache.ErrUnreachable) || errors.Is(err, cache.ErrNoQuorum):
		// This node answered; the nodes it needed did not.
		return connect.NewError(cluster.CodeNoQuorum, err)
	}
	return errorFromCache(err)
}

// Fetch answers from this node's store, loading on a miss.
func (s *peerService) Fetch(ctx context.Context, req *connect.Request[distcachev1.FetchRequest]) (*connect.Response[distcachev1.FetchResponse], error) {
	g, err := s.cs.group(req.Msg.GetGroup())
	if err != nil {
		return nil, err
	}
	// Grant the lease before reading: a write that follows revokes it.
	lease := g.Grant(req.Msg.GetKey(), req.Msg.GetHolder())
	v, err := g.GetLocal(ctx, req.Msg.GetKey())
	if err != nil {
		return nil, errorFromOwner(err)
	}
	res := &distcachev1.FetchResponse{Value: v.Bytes, Loaded: v.Source == cache.SourceLoader}
	if lease > 0 {
		res.HotLease = durationpb.New(lease)
	}
	if !v.Expires.IsZero() {
		res.Ttl = durationpb.New(max(v.Expires.Sub(s.cs.now()), 0))
	}
	return connect.NewResponse(res), nil
}

// Store sets a key as its owner.
func (s *peerService) Store(ctx context.Context, req *connect.Request[distcachev1.StoreRequest]) (*connect.Response[distcachev1.StoreResponse], error) {
	if err := s.cs.checkValue(req.Msg.GetValue()); err != nil {
		return nil, err
	}
	g, err := s.cs.group(req.Msg.GetGroup())
	if err != nil {
		return nil, err
	}
	if err := g.SetLocal(ctx, req.Msg.GetKey(), req.Msg.GetValue(), ttlOf(req.Msg.GetTtl())); err != nil {
		return nil, errorFromOwner(err)
	}
	return connect.NewResponse(&distcachev1.StoreResponse{}), nil
}

// Remove deletes a key as its owner.
func (s *peerService) Remove(ctx context.Context, req *connect.Request[distcachev1.RemoveRequest]) (*connect.Response[distcachev1.RemoveResponse], error) {
	g, err := s.cs.group(req.Msg.GetGroup())
	if err != nil {
		return nil, err
	}
	if err := g.DeleteLocal(ctx, req.Msg.GetKey()); err != nil {
		return nil, errorFromOwner(err)
	}
	return connect.NewResponse(&distcachev1.RemoveResponse{}), nil
}

// Invalidate drops this node's copies of a key its owner changed.
func (s *peerService) Invalidate(_ context.Context, req *connect.Request[distcachev1.InvalidateRequest]) (*connect.Response[distcachev1.InvalidateResponse], error) {
	g, err := s.cs.group(req.Msg.GetGroup())
	if err != nil {
		return nil, err
	}
	g.Invalidate(req.Msg.GetKey())
	return connect.NewResponse(&distcachev1.InvalidateResponse{}), nil
}

// Replicate keeps written records unless newer ones are here.
func (s *peerService) Replicate(_ context.Context, req *connect.Request[distcachev1.ReplicateRequest]) (*connect.Response[distcachev1.ReplicateResponse], error) {
	for _, r := range req.Msg.GetRecords() {
		if err := s.cs.checkValue(r.GetValue()); err != nil {
			return nil, err
		}
	}
	g, err := s.cs.group(req.Msg.GetGroup())
	if err != nil {
		return nil, err
	}
	var kept uint32
	now := s.cs.now()
	for _, r := range req.Msg.GetRecords() {
		ok, err := g.Replicate(cluster.RecordFromProto(r, now))
		if err != nil {
			return nil, errorFromOwner(err)
		}
		if ok {
			kept++
		}
	}
	return connect.NewResponse(&distcachev1.ReplicateResponse{Kept: kept}), nil
}

// Peek returns this node's written record of a key, without loading.
func (s *peerService) Peek(_ context.Context, req *connect.Request[distcachev1.PeekRequest]) (*connect.Response[distcachev1.PeekResponse], error) {
	g, err := s.cs.group(req.Msg.GetGroup())
	if err != nil {
		return nil, err
	}
	r, found := g.Peek(req.Msg.GetKey())
	res := &distcachev1.PeekResponse{Found: found}
	if found {
		res.Record = cluster.RecordToProto(r, s.cs.now())
	}
	return connect.NewResponse(res), nil
}
