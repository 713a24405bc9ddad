package peer

import (
	"context"
	"errors"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"

	distcachev1 "github.com/distcache/distcache/gen/distcache/v1"
	"github.com/distcache/distcache/gen/distcache/v1/distcachev1connect"
	"github.com/distcache/distcache/server/cache"
)

// Service answers other nodes as the owner of the keys they ask for. A
// call is always served as the owner, whatever this node's ring says, so
// two nodes whose rings briefly disagree cannot bounce it between them.
type Service struct {
	cfg ServiceConfig
}

// ServiceConfig is what a [Service] needs from the node's API layer.
type ServiceConfig struct {
	// Group returns the named group, or the Connect error to answer.
	Group func(name string) (*cache.Group, error)
	// CheckValue returns the Connect error for a value the node refuses
	// (too large), or nil.
	CheckValue func(value []byte) error
	// FromCache turns any other error of the cache into a Connect error.
	FromCache func(error) error
	// Now is the clock for remaining ttls.
	Now func() time.Time
}

var _ distcachev1connect.PeerServiceHandler = (*Service)(nil)

// NewService returns the PeerService handler for cfg.
func NewService(cfg ServiceConfig) *Service { return &Service{cfg: cfg} }

// errorFromOwner is FromCache, except that a failure of this node's own
// source says so ([CodeOwnerFailed]), and so does a failure of the nodes
// it needed ([CodeNoQuorum]): the caller reached this node, which is not
// to be marked unreachable, and must not load in its place.
func (s *Service) errorFromOwner(err error) error {
	var le *cache.LoadError
	var we *cache.WriteError
	switch {
	case errors.As(err, &le) || errors.As(err, &we):
		return connect.NewError(CodeOwnerFailed, err)
	case errors.Is(err, cache.ErrUnreachable) || errors.Is(err, cache.ErrNoQuorum):
		// This node answered; the nodes it needed did not.
		return connect.NewError(CodeNoQuorum, err)
	}
	return s.cfg.FromCache(err)
}

// Fetch answers from this node's store, loading on a miss.
func (s *Service) Fetch(ctx context.Context, req *connect.Request[distcachev1.FetchRequest]) (*connect.Response[distcachev1.FetchResponse], error) {
	g, err := s.cfg.Group(req.Msg.GetGroup())
	if err != nil {
		return nil, err
	}
	// Grant the lease before reading: a write that follows revokes it.
	lease := g.Grant(req.Msg.GetKey(), req.Msg.GetHolder())
	v, err := g.GetLocal(ctx, req.Msg.GetKey())
	if err != nil {
		return nil, s.errorFromOwner(err)
	}
	res := &distcachev1.FetchResponse{Value: v.Bytes, Loaded: v.Source == cache.SourceLoader}
	if lease > 0 {
		res.HotLease = durationpb.New(lease)
	}
	if !v.Expires.IsZero() {
		res.Ttl = durationpb.New(max(v.Expires.Sub(s.cfg.Now()), 0))
	}
	return connect.NewResponse(res), nil
}

// Store sets a key as its owner.
func (s *Service) Store(ctx context.Context, req *connect.Request[distcachev1.StoreRequest]) (*connect.Response[distcachev1.StoreResponse], error) {
	if err := s.cfg.CheckValue(req.Msg.GetValue()); err != nil {
		return nil, err
	}
	g, err := s.cfg.Group(req.Msg.GetGroup())
	if err != nil {
		return nil, err
	}
	if err := g.SetLocal(ctx, req.Msg.GetKey(), req.Msg.GetValue(), TTLOf(req.Msg.GetTtl())); err != nil {
		return nil, s.errorFromOwner(err)
	}
	return connect.NewResponse(&distcachev1.StoreResponse{}), nil
}

// Remove deletes a key as its owner.
func (s *Service) Remove(ctx context.Context, req *connect.Request[distcachev1.RemoveRequest]) (*connect.Response[distcachev1.RemoveResponse], error) {
	g, err := s.cfg.Group(req.Msg.GetGroup())
	if err != nil {
		return nil, err
	}
	if err := g.DeleteLocal(ctx, req.Msg.GetKey()); err != nil {
		return nil, s.errorFromOwner(err)
	}
	return connect.NewResponse(&distcachev1.RemoveResponse{}), nil
}

// Invalidate drops this node's copies of a key its owner changed.
func (s *Service) Invalidate(_ context.Context, req *connect.Request[distcachev1.InvalidateRequest]) (*connect.Response[distcachev1.InvalidateResponse], error) {
	g, err := s.cfg.Group(req.Msg.GetGroup())
	if err != nil {
		return nil, err
	}
	g.Invalidate(req.Msg.GetKey())
	return connect.NewResponse(&distcachev1.InvalidateResponse{}), nil
}

// Replicate keeps written records unless newer ones are here.
func (s *Service) Replicate(ctx context.Context, req *connect.Request[distcachev1.ReplicateRequest]) (*connect.Response[distcachev1.ReplicateResponse], error) {
	for _, r := range req.Msg.GetRecords() {
		if err := s.cfg.CheckValue(r.GetValue()); err != nil {
			return nil, err
		}
	}
	g, err := s.cfg.Group(req.Msg.GetGroup())
	if err != nil {
		return nil, err
	}
	var kept uint32
	now := s.cfg.Now()
	for _, r := range req.Msg.GetRecords() {
		ok, err := g.Replicate(ctx, RecordFromProto(r, now))
		if err != nil {
			return nil, s.errorFromOwner(err)
		}
		if ok {
			kept++
		}
	}
	return connect.NewResponse(&distcachev1.ReplicateResponse{Kept: kept}), nil
}

// Peek returns this node's written record of a key, without loading.
func (s *Service) Peek(_ context.Context, req *connect.Request[distcachev1.PeekRequest]) (*connect.Response[distcachev1.PeekResponse], error) {
	g, err := s.cfg.Group(req.Msg.GetGroup())
	if err != nil {
		return nil, err
	}
	r, found := g.Peek(req.Msg.GetKey())
	res := &distcachev1.PeekResponse{Found: found}
	if found {
		res.Record = RecordToProto(r, s.cfg.Now())
	}
	return connect.NewResponse(res), nil
}

// TTLOf is a request's ttl as the cache takes it: absent means the
// group's ([cache.GroupTTL]), zero forever.
func TTLOf(d *durationpb.Duration) time.Duration {
	if d == nil {
		return cache.GroupTTL
	}
	return d.AsDuration()
}
