package api

import (
	"context"
	"log/slog"

	"connectrpc.com/connect"

	distcachev1 "github.com/distcache/distcache/gen/distcache/v1"
	"github.com/distcache/distcache/gen/distcache/v1/distcachev1connect"
	"github.com/distcache/distcache/server/cache"
)

type adminService struct {
	groups  Groups
	plugins Plugins // nil when the node runs no plugins
	cluster Cluster // nil for a node alone
	members MemberAdmin
	auth    adminAuth
	log     *slog.Logger
}

var _ distcachev1connect.AdminServiceHandler = (*adminService)(nil)

// GetStats reports one group, or every group when none is named.
func (s *adminService) GetStats(_ context.Context, req *connect.Request[distcachev1.GetStatsRequest]) (*connect.Response[distcachev1.GetStatsResponse], error) {
	groups := s.groups.All()
	if req.Msg.Group != nil {
		g, ok := s.groups.Group(req.Msg.GetGroup())
		if !ok {
			return nil, errUnknownGroup(req.Msg.GetGroup())
		}
		groups = []*cache.Group{g}
	}
	res := &distcachev1.GetStatsResponse{}
	for _, g := range groups {
		res.Groups = append(res.Groups, statsProto(g.Name(), g.Stats()))
	}
	return connect.NewResponse(res), nil
}

// Purge empties a group on this node; adminAuth has checked the token.
func (s *adminService) Purge(_ context.Context, req *connect.Request[distcachev1.PurgeRequest]) (*connect.Response[distcachev1.PurgeResponse], error) {
	g, ok := s.groups.Group(req.Msg.GetGroup())
	if !ok {
		return nil, errUnknownGroup(req.Msg.GetGroup())
	}
	return connect.NewResponse(&distcachev1.PurgeResponse{Removed: g.Purge()}), nil
}

func statsProto(name string, s cache.Stats) *distcachev1.GroupStats {
	return &distcachev1.GroupStats{
		Group:        name,
		Gets:         s.Gets,
		Hits:         s.Hits,
		Misses:       s.Misses,
		Loads:        s.Loads,
		LoadErrors:   s.LoadErrors,
		NegativeHits: s.NegativeHits,
		Evictions:    s.Evictions,
		Expirations:  s.Expirations,
		Items:        s.Items,
		Bytes:        s.Bytes,
		Capacity:     s.Capacity,
		HitRatio:     s.HitRatio(),
		Policy:       s.Policy,
		HotHits:      s.HotHits,
		HotItems:     s.HotItems,
		PeerFetches:  s.PeerFetches,
		PeerErrors:   s.PeerErrors,
		Repairs:      s.Repairs,
		Handoffs:     s.Handoffs,
		Dropped:      s.Dropped,
	}
}
