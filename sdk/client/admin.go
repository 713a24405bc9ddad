package client

import (
	"context"
	"errors"
	"fmt"

	"connectrpc.com/connect"

	distcachev1 "github.com/distcache/distcache/gen/distcache/v1"
)

// Stats returns the counters of group, or of every group (sorted by name)
// when group is "". They are one node's counters: the node the call
// reached, not the cluster's sums. An unknown group is [ErrNotFound]. The
// call carries the token of [WithAdminToken], if any.
func (c *Client) Stats(ctx context.Context, group string) ([]*distcachev1.GroupStats, error) {
	req := &distcachev1.GetStatsRequest{}
	if group != "" {
		req.Group = &group
	}
	var res *distcachev1.GetStatsResponse
	err := c.call(ctx, func(ctx context.Context, e *endpoint) error {
		r, err := e.admin.GetStats(ctx, adminRequest(c, req))
		if err == nil {
			res = r.Msg
		}
		return err
	})
	if err != nil {
		if group == "" {
			group = "all groups"
		}
		return nil, wrapError("stats", group, "", err)
	}
	return res.GetGroups(), nil
}

// adminRequest wraps msg with the admin token.
func adminRequest[T any](c *Client, msg *T) *connect.Request[T] {
	req := connect.NewRequest(msg)
	if c.adminToken != "" {
		req.Header().Set("Authorization", "Bearer "+c.adminToken)
	}
	return req
}

// bearerToken is a client interceptor that sends a data-plane token on
// every call that carries no Authorization header yet.
type bearerToken string

func (t bearerToken) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if req.Header().Get("Authorization") == "" {
			req.Header().Set("Authorization", "Bearer "+string(t))
		}
		return next(ctx, req)
	}
}

func (t bearerToken) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		if conn.RequestHeader().Get("Authorization") == "" {
			conn.RequestHeader().Set("Authorization", "Bearer "+string(t))
		}
		return conn
	}
}

func (t bearerToken) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// Plugins lists the plugin modules loaded by the node the call reached,
// sorted by name, with the groups each serves and the groups whose
// instance of it failed. Each plugin's State says whether it serves every
// group that uses it, GroupStates what serves each of those groups (the
// plugin or, after its instance failed, the native LRU), and Failures and
// LastFailure what went wrong since the node started: a guest's panic is
// in LastFailure's Error as "panic: <message>". The call carries the token of [WithAdminToken],
// if any.
func (c *Client) Plugins(ctx context.Context) ([]*distcachev1.Plugin, error) {
	var res *distcachev1.ListPluginsResponse
	err := c.call(ctx, func(ctx context.Context, e *endpoint) error {
		r, err := e.admin.ListPlugins(ctx, adminRequest(c, &distcachev1.ListPluginsRequest{}))
		if err == nil {
			res = r.Msg
		}
		return err
	})
	if err != nil {
		return nil, wrapError("plugins", "all groups", "", err)
	}
	return res.GetPlugins(), nil
}

// SetGroupPolicy switches group, on the node the call reached, to the
// loaded policy plugin named policy and returns the policy that serves
// the group afterwards. It needs the node's admin token ([WithAdminToken]).
// An unknown group is [ErrNotFound]; a policy that is not loaded is a
// *connect.Error with code FailedPrecondition.
func (c *Client) SetGroupPolicy(ctx context.Context, group, policy string) (string, error) {
	req := &distcachev1.SetGroupPolicyRequest{Group: group, Policy: policy}
	var res *distcachev1.SetGroupPolicyResponse
	err := c.call(ctx, func(ctx context.Context, e *endpoint) error {
		r, err := e.admin.SetGroupPolicy(ctx, adminRequest(c, req))
		if err == nil {
			res = r.Msg
		}
		return err
	})
	if err != nil {
		return "", wrapError("set policy of", group, "", err)
	}
	return res.GetPolicy(), nil
}

// SetGroupPolicyAll switches group to the policy plugin named policy on
// every member of the cluster: the node the call reached switches it and
// then asks each other member of its ring, with this client's admin
// token. It returns every member's answer, sorted by member id, and an
// error if the call failed or if any member did not switch (each such
// member's error joined); the answers are returned in the second case
// too. A member that joins or restarts later serves the policy of its
// groups file.
func (c *Client) SetGroupPolicyAll(ctx context.Context, group, policy string) ([]*distcachev1.MemberPolicy, error) {
	req := &distcachev1.SetGroupPolicyRequest{Group: group, Policy: policy, AllMembers: true}
	var res *distcachev1.SetGroupPolicyResponse
	err := c.call(ctx, func(ctx context.Context, e *endpoint) error {
		r, err := e.admin.SetGroupPolicy(ctx, adminRequest(c, req))
		if err == nil {
			res = r.Msg
		}
		return err
	})
	if err != nil {
		return nil, wrapError("set policy of", group, "", err)
	}
	var errs []error
	for _, m := range res.GetMembers() {
		if m.GetError() != "" {
			errs = append(errs, fmt.Errorf("distcache: set policy of %s on member %s: %s", group, m.GetMember(), m.GetError()))
		}
	}
	return res.GetMembers(), errors.Join(errs...)
}
