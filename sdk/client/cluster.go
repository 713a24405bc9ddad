package client

import (
	"context"

	"connectrpc.com/connect"

	distcachev1 "github.com/distcache/distcache/gen/distcache/v1"
)

// Members returns the cluster's membership as the node the call reached
// sees it: the members sorted by id, the id of that node (Self) and the
// ring's virtual nodes per member.
func (c *Client) Members(ctx context.Context) (*distcachev1.ListMembersResponse, error) {
	var res *distcachev1.ListMembersResponse
	err := c.call(ctx, func(ctx context.Context, e *endpoint) error {
		r, err := e.cluster.ListMembers(ctx, connect.NewRequest(&distcachev1.ListMembersRequest{}))
		if err == nil {
			res = r.Msg
		}
		return err
	})
	if err != nil {
		return nil, wrapError("members", "cluster", "", err)
	}
	return res, nil
}

// Owner returns the member that owns key, as the node the call reached
// places it on its ring. Ownership does not depend on the group.
func (c *Client) Owner(ctx context.Context, key string) (*distcachev1.Member, error) {
	req := &distcachev1.OwnerRequest{Key: key}
	var res *distcachev1.OwnerResponse
	err := c.call(ctx, func(ctx context.Context, e *endpoint) error {
		r, err := e.cluster.Owner(ctx, connect.NewRequest(req))
		if err == nil {
			res = r.Msg
		}
		return err
	})
	if err != nil {
		return nil, wrapError("owner", "cluster", key, err)
	}
	return res.GetOwner(), nil
}
