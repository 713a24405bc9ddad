package api

import (
	"context"
	"errors"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	distcachev1 "github.com/distcache/distcache/gen/distcache/v1"
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

// ListPlugins lists the node's loaded plugins.
func (s *adminService) ListPlugins(context.Context, *connect.Request[distcachev1.ListPluginsRequest]) (*connect.Response[distcachev1.ListPluginsResponse], error) {
	res := &distcachev1.ListPluginsResponse{}
	if s.plugins == nil {
		return connect.NewResponse(res), nil
	}
	for _, info := range s.plugins.Plugins() {
		kind := distcachev1.PluginKind_PLUGIN_KIND_POLICY
		if info.Kind == plugin.KindLoader {
			kind = distcachev1.PluginKind_PLUGIN_KIND_LOADER
		}
		origin := distcachev1.PluginOrigin_PLUGIN_ORIGIN_FILE
		if info.Origin == plugin.OriginBuiltin {
			origin = distcachev1.PluginOrigin_PLUGIN_ORIGIN_BUILTIN
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
		}
		for _, f := range info.Failed {
			p.FailedGroups = append(p.FailedGroups, &distcachev1.PolicyFailure{
				Group: f.Group, Reason: f.Reason, Error: f.Err.Error(), FailedAt: timestamppb.New(f.At),
			})
		}
		res.Plugins = append(res.Plugins, p)
	}
	return connect.NewResponse(res), nil
}

// SetGroupPolicy switches a group's policy; adminAuth has checked the
// token.
func (s *adminService) SetGroupPolicy(ctx context.Context, req *connect.Request[distcachev1.SetGroupPolicyRequest]) (*connect.Response[distcachev1.SetGroupPolicyResponse], error) {
	g, ok := s.groups.Group(req.Msg.GetGroup())
	if !ok {
		return nil, errUnknownGroup(req.Msg.GetGroup())
	}
	if s.plugins == nil {
		return nil, connect.NewError(connect.CodeFailedPrecondition, errors.New("this node runs no plugins"))
	}
	if err := s.plugins.SetGroupPolicy(ctx, g.Name(), req.Msg.GetPolicy()); err != nil {
		if errors.Is(err, plugin.ErrUnknown) {
			return nil, connect.NewError(connect.CodeFailedPrecondition, err)
		}
		return nil, connect.NewError(connect.CodeInternal, err)
	}
	return connect.NewResponse(&distcachev1.SetGroupPolicyResponse{Policy: g.Stats().Policy}), nil
}
