package api

import (
	"context"
	"errors"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	distcachev1 "github.com/distcache/distcache/gen/distcache/v1"
	"github.com/distcache/distcache/gen/distcache/v1/distcachev1connect"
	"github.com/distcache/distcache/server/cluster"
)

// Cluster is what the ClusterService needs of a node's view of the
// cluster ([cluster.Picker] implements it). It must be safe for concurrent
// use.
type Cluster interface {
	// Ring returns the current ring.
	Ring() *cluster.Ring
	// Self returns this node's ID.
	Self() string
	// Suspect reports whether a member is being passed over.
	SuspectID(id string) bool
}

type clusterService struct {
	cluster Cluster
}

var _ distcachev1connect.ClusterServiceHandler = (*clusterService)(nil)

func (s *clusterService) member(m cluster.Member, shares map[string]float64) *distcachev1.Member {
	state := distcachev1.MemberState_MEMBER_STATE_ALIVE
	if s.cluster.SuspectID(m.ID) {
		state = distcachev1.MemberState_MEMBER_STATE_SUSPECT
	}
	pm := &distcachev1.Member{Id: m.ID, Address: m.Addr, State: state, RingShare: shares[m.ID]}
	if !m.Since.IsZero() {
		pm.Since = timestamppb.New(m.Since)
	}
	return pm
}

// ListMembers lists the members of this node's ring.
func (s *clusterService) ListMembers(context.Context, *connect.Request[distcachev1.ListMembersRequest]) (*connect.Response[distcachev1.ListMembersResponse], error) {
	ring := s.cluster.Ring()
	res := &distcachev1.ListMembersResponse{Self: s.cluster.Self(), Replicas: int32(ring.Replicas())}
	shares := ring.Shares()
	for _, m := range ring.Members() {
		res.Members = append(res.Members, s.member(m, shares))
	}
	return connect.NewResponse(res), nil
}

// Owner says which member owns a key.
func (s *clusterService) Owner(_ context.Context, req *connect.Request[distcachev1.OwnerRequest]) (*connect.Response[distcachev1.OwnerResponse], error) {
	ring := s.cluster.Ring()
	m, ok := ring.Owner(req.Msg.GetKey())
	if !ok {
		return nil, connect.NewError(connect.CodeUnavailable, errors.New("the ring is empty"))
	}
	return connect.NewResponse(&distcachev1.OwnerResponse{Owner: s.member(m, ring.Shares())}), nil
}
