package api

import (
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	distcachev1 "github.com/distcache/distcache/gen/distcache/v1"
	"github.com/distcache/distcache/gen/distcache/v1/distcachev1connect"
	"github.com/distcache/distcache/server/plugin"
)

// Plugins is what the admin API needs of a node's plugin manager
// ([plugin.Manager] implements it). Implementations must be safe for
// concurrent use.
type Plugins interface {
	// Plugins lists the loaded plugins.
	Plugins() []plugin.Info
	// SetGroupPolicy switches group to the loaded policy plugin name.
	SetGroupPolicy(ctx context.Context, group, name string) error
}

// MemberAdmin returns a client of the AdminService of the member at
// addr, for the admin calls a node makes on every member on its caller's
// behalf (SetGroupPolicy's all_members).
type MemberAdmin func(addr string) distcachev1connect.AdminServiceClient

// ForwardedByHeader names the member that made an admin call on behalf of
// its own caller (SetGroupPolicy's all_members); the member called logs
// it. It is informative only: the call's token is what is checked.
const ForwardedByHeader = "Distcache-Forwarded-By"

// memberCallTimeout bounds one member's SetGroupPolicy on behalf of an
// all_members call, within the caller's own deadline.
const memberCallTimeout = 30 * time.Second

// ListPlugins lists the node's loaded plugins.
func (s *adminService) ListPlugins(context.Context, *connect.Request[distcachev1.ListPluginsRequest]) (*connect.Response[distcachev1.ListPluginsResponse], error) {
	res := &distcachev1.ListPluginsResponse{}
	if s.plugins == nil {
		return connect.NewResponse(res), nil
	}
	for _, info := range s.plugins.Plugins() {
		res.Plugins = append(res.Plugins, pluginProto(info))
	}
	return connect.NewResponse(res), nil
}

func pluginProto(info plugin.Info) *distcachev1.Plugin {
	kind := distcachev1.PluginKind_PLUGIN_KIND_POLICY
	if info.Kind == plugin.KindLoader {
		kind = distcachev1.PluginKind_PLUGIN_KIND_LOADER
	}
	origin := distcachev1.PluginOrigin_PLUGIN_ORIGIN_FILE
	if info.Origin == plugin.OriginBuiltin {
		origin = distcachev1.PluginOrigin_PLUGIN_ORIGIN_BUILTIN
	}
	state := distcachev1.PluginState_PLUGIN_STATE_SERVING
	if info.State == plugin.StateFailed {
		state = distcachev1.PluginState_PLUGIN_STATE_FAILED
	}
	p := &distcachev1.Plugin{
		Name:       info.Name,
		Kind:       kind,
		Sha256:     info.SHA256,
		AbiVersion: int32(info.ABIVersion),
		LoadedAt:   timestamppb.New(info.LoadedAt),
		Groups:     info.Groups,
		Origin:     origin,
		File:       info.File,
		State:      state,
		Failures:   info.Failures,
	}
	for _, g := range info.Groups {
		p.GroupStates = append(p.GroupStates, &distcachev1.PluginGroup{
			Group: g, State: distcachev1.PluginGroupState_PLUGIN_GROUP_STATE_SERVING,
		})
	}
	for _, f := range info.Failed {
		p.FailedGroups = append(p.FailedGroups, &distcachev1.PolicyFailure{
			Group: f.Group, Reason: f.Reason, Error: f.Err.Error(), FailedAt: timestamppb.New(f.At),
		})
		p.GroupStates = append(p.GroupStates, &distcachev1.PluginGroup{
			Group: f.Group, State: distcachev1.PluginGroupState_PLUGIN_GROUP_STATE_NATIVE_FALLBACK,
		})
	}
	slices.SortFunc(p.GroupStates, func(a, b *distcachev1.PluginGroup) int { return cmp.Compare(a.Group, b.Group) })
	if f := info.LastFailure; f != nil {
		p.LastFailure = &distcachev1.PluginFailure{
			Reason: f.Reason, Error: f.Err.Error(), FailedAt: timestamppb.New(f.At), Group: f.Group,
		}
	}
	return p
}

// SetGroupPolicy switches a group's policy, on this node or, with
// all_members, on every member; adminAuth has checked the token. Each
// switch is logged at INFO with the group, the policies before and after
// and who asked.
func (s *adminService) SetGroupPolicy(ctx context.Context, req *connect.Request[distcachev1.SetGroupPolicyRequest]) (*connect.Response[distcachev1.SetGroupPolicyResponse], error) {
	g, ok := s.groups.Group(req.Msg.GetGroup())
	if !ok {
		return nil, errUnknownGroup(req.Msg.GetGroup())
	}
	if s.plugins == nil {
		return nil, connect.NewError(connect.CodeFailedPrecondition, errors.New("this node runs no plugins"))
	}
	who := []any{"by", s.auth.who(req.Header().Get("Authorization")), "peer", req.Peer().Addr}
	if via := req.Header().Get(ForwardedByHeader); via != "" {
		who = append(who, "via", via)
	}
	old := g.Stats().Policy
	if err := s.plugins.SetGroupPolicy(ctx, g.Name(), req.Msg.GetPolicy()); err != nil {
		s.log.Warn("group policy not set", append([]any{"group", g.Name(), "policy", req.Msg.GetPolicy(), "err", err}, who...)...)
		if errors.Is(err, plugin.ErrUnknown) {
			return nil, connect.NewError(connect.CodeFailedPrecondition, err)
		}
		return nil, connect.NewError(connect.CodeInternal, err)
	}
	now := g.Stats().Policy
	s.log.Info("group policy set", append([]any{"group", g.Name(), "old", old, "new", now,
		"all_members", req.Msg.GetAllMembers()}, who...)...)
	res := &distcachev1.SetGroupPolicyResponse{Policy: now}
	if req.Msg.GetAllMembers() {
		res.Members = s.setOnMembers(ctx, req, now)
	}
	return connect.NewResponse(res), nil
}

// setOnMembers calls SetGroupPolicy on every other member of the ring, at
// once, with req's token, and returns every member's answer (this node's
// is local), sorted by member id.
func (s *adminService) setOnMembers(ctx context.Context, req *connect.Request[distcachev1.SetGroupPolicyRequest], local string) []*distcachev1.MemberPolicy {
	if s.cluster == nil {
		return []*distcachev1.MemberPolicy{{Policy: local}}
	}
	self := s.cluster.Self()
	var out []*distcachev1.MemberPolicy
	var wg sync.WaitGroup
	for _, m := range s.cluster.Ring().Members() {
		mp := &distcachev1.MemberPolicy{Member: m.ID, Address: m.Addr}
		out = append(out, mp)
		if m.ID == self {
			mp.Policy = local
			continue
		}
		if s.members == nil {
			mp.Error = "this node cannot call the other members"
			continue
		}
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, memberCallTimeout)
			defer cancel()
			r := connect.NewRequest(&distcachev1.SetGroupPolicyRequest{Group: req.Msg.GetGroup(), Policy: req.Msg.GetPolicy()})
			if auth := req.Header().Get("Authorization"); auth != "" {
				r.Header().Set("Authorization", auth)
			}
			r.Header().Set(ForwardedByHeader, self)
			res, err := s.members(m.Addr).SetGroupPolicy(ctx, r)
			if err != nil {
				mp.Error = err.Error()
				return
			}
			mp.Policy = res.Msg.GetPolicy()
		})
	}
	wg.Wait()
	slices.SortFunc(out, func(a, b *distcachev1.MemberPolicy) int { return cmp.Compare(a.Member, b.Member) })
	failed := 0
	for _, mp := range out {
		if mp.Error != "" {
			failed++
			s.log.Warn("group policy not set on a member", "group", req.Msg.GetGroup(), "policy", req.Msg.GetPolicy(),
				"member", mp.Member, "address", mp.Address, "err", mp.Error)
		}
	}
	s.log.Info("group policy set on the members", "group", req.Msg.GetGroup(), "policy", req.Msg.GetPolicy(),
		"members", len(out), "failed", failed)
	return out
}

// who names the credential in an Authorization header for a log record:
// "admin token", or "token sha256:" and the start of a data-plane token's
// hash (never the token itself).
func (a adminAuth) who(header string) string {
	got, ok := strings.CutPrefix(header, "Bearer ")
	switch {
	case !ok:
		return "no token"
	case a.token != "" && subtle.ConstantTimeCompare([]byte(got), []byte(a.token)) == 1:
		return "admin token"
	}
	sum := sha256.Sum256([]byte(got))
	return "token sha256:" + hex.EncodeToString(sum[:4])
}
