package api

import (
	"errors"
	"strings"
	"testing"
	"time"

	distcachev1 "github.com/distcache/distcache/gen/distcache/v1"
	"github.com/distcache/distcache/server/plugin"
)

// TestPluginProtoState: a policy with a group on the native fallback is
// FAILED, lists every group with what serves it, sorted, and carries its
// last failure.
func TestPluginProtoState(t *testing.T) {
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	trap := errors.New("distcache_policy_update: panic: boom (wasm error: unreachable)")
	p := pluginProto(plugin.Info{
		Name: "bad", Kind: plugin.KindPolicy, Origin: plugin.OriginFile, Groups: []string{"c", "a"},
		Failed:   []plugin.PolicyFailure{{Group: "b", Policy: "bad", Reason: "trap", Err: trap, At: at}},
		State:    plugin.StateFailed,
		Failures: 3, LastFailure: &plugin.Failure{Reason: "trap", Err: trap, At: at, Group: "b"},
	})
	if p.State != distcachev1.PluginState_PLUGIN_STATE_FAILED || p.Failures != 3 {
		t.Errorf("state %v, failures %d", p.State, p.Failures)
	}
	var got []string
	for _, g := range p.GroupStates {
		got = append(got, g.Group+"="+strings.TrimPrefix(g.State.String(), "PLUGIN_GROUP_STATE_"))
	}
	if strings.Join(got, " ") != "a=SERVING b=NATIVE_FALLBACK c=SERVING" {
		t.Errorf("group states = %v", got)
	}
	if f := p.LastFailure; f == nil || f.Group != "b" || f.Reason != "trap" || f.Error != trap.Error() || !f.FailedAt.AsTime().Equal(at) {
		t.Errorf("last failure = %v", f)
	}

	p = pluginProto(plugin.Info{Name: "ok", Kind: plugin.KindLoader, State: plugin.StateServing})
	if p.State != distcachev1.PluginState_PLUGIN_STATE_SERVING || p.LastFailure != nil || len(p.GroupStates) != 0 {
		t.Errorf("a plugin that never failed = %v", p)
	}
}

// TestWhoNamesTheCredential: the log of an admin call names the admin
// token, or a data-plane token by the start of its hash, never the token.
func TestWhoNamesTheCredential(t *testing.T) {
	a := adminAuth{token: "the-admin-token"}
	for header, want := range map[string]string{
		"Bearer the-admin-token":          "admin token",
		"":                                "no token",
		"Bearer admin-0123456789abcdef":   "token sha256:",
		"Bearer the-admin-token-and-more": "token sha256:",
	} {
		got := a.who(header)
		if !strings.HasPrefix(got, want) || strings.Contains(got, "0123456789abcdef") {
			t.Errorf("who(%q) = %q, want %q...", header, got, want)
		}
	}
}
