package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	distcachev1 "github.com/distcache/distcache/gen/distcache/v1"
	"github.com/distcache/distcache/sdk/client"
)

// maxStdinValue bounds the value set reads from stdin: one byte over the
// API's largest --max-value-bytes, so the node, not the reader, names the
// limit a value breaks.
const maxStdinValue = 64<<20 + 1

func runGet(ctx context.Context, c *call) error {
	v, err := c.client.Get(ctx, c.group, c.args[0])
	if err != nil {
		return err
	}
	if c.output == "json" {
		out := map[string]any{"group": c.group, "key": c.args[0], "source": v.Source}
		if utf8.Valid(v.Bytes) {
			out["value"] = string(v.Bytes)
		} else {
			out["valueBase64"] = base64.StdEncoding.EncodeToString(v.Bytes)
		}
		if v.TTL > 0 {
			out["ttl"] = strconv.FormatFloat(v.TTL.Round(time.Millisecond).Seconds(), 'f', -1, 64) + "s"
		}
		return c.printJSON(out)
	}
	if _, err := c.io.Stdout.Write(v.Bytes); err != nil {
		return err
	}
	// A person reading a terminal gets the prompt on its own line; a pipe
	// gets the bytes exactly.
	if c.io.StdoutIsTerminal && !bytes.HasSuffix(v.Bytes, []byte("\n")) {
		_, err = io.WriteString(c.io.Stdout, "\n")
	}
	return err
}

func runSet(ctx context.Context, c *call) error {
	var value []byte
	if len(c.args) == 2 {
		value = []byte(c.args[1])
	} else {
		if c.io.StdinIsTerminal {
			return fmt.Errorf("%w: no VALUE: give it as the second argument or pipe it to stdin", errUsage)
		}
		var err error
		if value, err = io.ReadAll(io.LimitReader(c.io.Stdin, maxStdinValue)); err != nil {
			return fmt.Errorf("reading the value from stdin: %w", err)
		}
	}
	var o []client.SetOption
	if c.ttl.set {
		o = append(o, client.WithTTL(c.ttl.d))
	}
	if err := c.client.Set(ctx, c.group, c.args[0], value, o...); err != nil {
		return err
	}
	if c.output == "json" {
		return c.printJSON(map[string]any{"group": c.group, "key": c.args[0], "bytes": len(value)})
	}
	_, err := io.WriteString(c.io.Stdout, "OK\n")
	return err
}

func runDel(ctx context.Context, c *call) error {
	if len(c.args) == 1 {
		if err := c.client.Delete(ctx, c.group, c.args[0]); err != nil {
			return err
		}
	} else {
		errs, err := c.client.DeleteMany(ctx, c.group, c.args)
		if err != nil {
			return err
		}
		if err := errors.Join(errs...); err != nil {
			return err
		}
	}
	if c.output == "json" {
		return c.printJSON(map[string]any{"group": c.group, "deleted": c.args})
	}
	_, err := io.WriteString(c.io.Stdout, "OK\n")
	return err
}

// nodeStats is one member's answer to stats --all.
type nodeStats struct {
	node   string
	groups []*distcachev1.GroupStats
	err    error
}

func runStats(ctx context.Context, c *call) error {
	group := ""
	if len(c.args) == 1 {
		group = c.args[0]
	}
	var rows []nodeStats
	if c.all {
		err := c.eachMember(ctx, func(ctx context.Context, m *distcachev1.Member, mc *client.Client) {
			gs, err := mc.Stats(ctx, group)
			rows = append(rows, nodeStats{node: m.GetId(), groups: gs, err: err})
		})
		if err != nil {
			return err
		}
	} else {
		gs, err := c.client.Stats(ctx, group)
		if err != nil {
			return err
		}
		rows = []nodeStats{{groups: gs}}
	}
	if c.output == "json" {
		if !c.all {
			return c.printProto(&distcachev1.GetStatsResponse{Groups: rows[0].groups})
		}
		var out []map[string]any
		for _, r := range rows {
			m := map[string]any{"node": r.node}
			if r.err != nil {
				m["error"] = r.err.Error()
			} else {
				m["stats"] = c.protoJSON(&distcachev1.GetStatsResponse{Groups: r.groups})
			}
			out = append(out, m)
		}
		if err := c.printJSON(out); err != nil {
			return err
		}
		return firstError(rows)
	}
	tw := tabwriter.NewWriter(c.io.Stdout, 0, 0, 2, ' ', 0)
	if c.all {
		fmt.Fprint(tw, "NODE\t")
	}
	fmt.Fprintln(tw, "GROUP\tPOLICY\tITEMS\tBYTES\tCAPACITY\tGETS\tHITS\tHIT%\tMISSES\tLOADS\tLOAD ERRORS\tEVICTIONS\tEXPIRATIONS")
	for _, r := range rows {
		if r.err != nil {
			fmt.Fprintf(tw, "%s\t%v\n", r.node, r.err)
			continue
		}
		for _, g := range r.groups {
			if c.all {
				fmt.Fprintf(tw, "%s\t", r.node)
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%.1f\t%d\t%d\t%d\t%d\t%d\n",
				g.GetGroup(), g.GetPolicy(), g.GetItems(), g.GetBytes(), g.GetCapacity(), g.GetGets(), g.GetHits(),
				100*g.GetHitRatio(), g.GetMisses(), g.GetLoads(), g.GetLoadErrors(), g.GetEvictions(), g.GetExpirations())
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return firstError(rows)
}

// firstError is the first member's failure: stats --all prints every
// member it could ask and still exits with the failure's code.
func firstError(rows []nodeStats) error {
	for _, r := range rows {
		if r.err != nil {
			return fmt.Errorf("member %s: %w", r.node, r.err)
		}
	}
	return nil
}

func runMembers(ctx context.Context, c *call) error {
	res, err := c.client.Members(ctx)
	if err != nil {
		return err
	}
	if c.output == "json" {
		return c.printProto(res)
	}
	tw := tabwriter.NewWriter(c.io.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\tID\tADDRESS\tSTATE\tSHARE\tSINCE")
	for _, m := range res.GetMembers() {
		self := ""
		if m.GetId() == res.GetSelf() {
			self = "*"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.1f%%\t%s\n", self, m.GetId(), m.GetAddress(), memberState(m),
			100*m.GetRingShare(), m.GetSince().AsTime().Local().Format(time.DateTime))
	}
	return tw.Flush()
}

func memberState(m *distcachev1.Member) string {
	return strings.ToLower(strings.TrimPrefix(m.GetState().String(), "MEMBER_STATE_"))
}

func runOwner(ctx context.Context, c *call) error {
	m, err := c.client.Owner(ctx, c.args[0])
	if err != nil {
		return err
	}
	if c.output == "json" {
		return c.printProto(m)
	}
	_, err = fmt.Fprintf(c.io.Stdout, "%s %s\n", m.GetId(), m.GetAddress())
	return err
}

func runPlugins(ctx context.Context, c *call) error {
	ps, err := c.client.Plugins(ctx)
	if err != nil {
		return err
	}
	if c.output == "json" {
		return c.printProto(&distcachev1.ListPluginsResponse{Plugins: ps})
	}
	tw := tabwriter.NewWriter(c.io.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKIND\tORIGIN\tSTATE\tABI\tSHA256\tLOADED\tGROUPS\tFAILURES\tLAST FAILURE")
	for _, p := range ps {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%.12s\t%s\t%s\t%d\t%s\n", p.GetName(),
			strings.ToLower(strings.TrimPrefix(p.GetKind().String(), "PLUGIN_KIND_")), pluginOrigin(p), pluginState(p),
			p.GetAbiVersion(), p.GetSha256(), p.GetLoadedAt().AsTime().Local().Format(time.DateTime),
			orDash(pluginGroups(p)), p.GetFailures(), orDash(lastFailure(p.GetLastFailure())))
	}
	return tw.Flush()
}

// pluginState is "serving", "failed" or "-" (a node that does not say).
func pluginState(p *distcachev1.Plugin) string {
	if p.GetState() == distcachev1.PluginState_PLUGIN_STATE_UNSPECIFIED {
		return "-"
	}
	return strings.ToLower(strings.TrimPrefix(p.GetState().String(), "PLUGIN_STATE_"))
}

// pluginGroups lists the groups that use p, a group on the native LRU
// since p failed marked "(native lru)".
func pluginGroups(p *distcachev1.Plugin) string {
	var gs []string
	for _, g := range p.GetGroupStates() {
		s := g.GetGroup()
		if g.GetState() == distcachev1.PluginGroupState_PLUGIN_GROUP_STATE_NATIVE_FALLBACK {
			s += " (native lru)"
		}
		gs = append(gs, s)
	}
	if len(gs) == 0 && len(p.GetFailedGroups()) == 0 { // a node that does not send group_states
		return strings.Join(p.GetGroups(), ",")
	}
	return strings.Join(gs, ",")
}

// lastFailure is "TIME [group G] REASON: ERROR" on one line, or "".
func lastFailure(f *distcachev1.PluginFailure) string {
	if f == nil {
		return ""
	}
	s := f.GetFailedAt().AsTime().Local().Format(time.DateTime)
	if f.GetGroup() != "" {
		s += " group " + f.GetGroup()
	}
	msg, _, _ := strings.Cut(f.GetError(), "\n") // wazero's wasm stack follows
	return s + " " + f.GetReason() + ": " + msg
}

// pluginOrigin is "builtin", "file" or "-" (a node that does not say).
func pluginOrigin(p *distcachev1.Plugin) string {
	if p.GetOrigin() == distcachev1.PluginOrigin_PLUGIN_ORIGIN_UNSPECIFIED {
		return "-"
	}
	return strings.ToLower(strings.TrimPrefix(p.GetOrigin().String(), "PLUGIN_ORIGIN_"))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func runPolicy(ctx context.Context, c *call) error {
	group := c.args[0]
	if c.all && len(c.args) == 2 {
		return setPolicyAll(ctx, c, group, c.args[1])
	}
	// one asks mc for the group's policy, or sets it.
	one := func(ctx context.Context, mc *client.Client) (string, error) {
		if len(c.args) == 2 {
			return mc.SetGroupPolicy(ctx, group, c.args[1])
		}
		gs, err := mc.Stats(ctx, group)
		if err != nil {
			return "", err
		}
		if len(gs) != 1 {
			return "", fmt.Errorf("stats of %s: %d groups in the answer", group, len(gs))
		}
		return gs[0].GetPolicy(), nil
	}
	if !c.all {
		p, err := one(ctx, c.client)
		if err != nil {
			return err
		}
		if c.output == "json" {
			return c.printJSON(map[string]any{"group": group, "policy": p})
		}
		_, err = fmt.Fprintln(c.io.Stdout, p)
		return err
	}
	var (
		rows  []policyRow
		first error
	)
	err := c.eachMember(ctx, func(ctx context.Context, m *distcachev1.Member, mc *client.Client) {
		p, err := one(ctx, mc)
		r := policyRow{Node: m.GetId(), Policy: p}
		if err != nil {
			r.Error = err.Error()
			if first == nil {
				first = fmt.Errorf("member %s: %w", m.GetId(), err)
			}
		}
		rows = append(rows, r)
	})
	if err != nil {
		return err
	}
	return c.printPolicies(group, rows, first)
}

// policyRow is one member's line of policy --all.
type policyRow struct {
	Node   string `json:"node"`
	Policy string `json:"policy,omitempty"`
	Error  string `json:"error,omitempty"`
}

// setPolicyAll switches group to policy on every member through the node
// reached (SetGroupPolicy's all_members), which answers for each.
func setPolicyAll(ctx context.Context, c *call, group, policy string) error {
	ms, first := c.client.SetGroupPolicyAll(ctx, group, policy)
	if ms == nil && first != nil {
		return first
	}
	var rows []policyRow
	for _, m := range ms {
		rows = append(rows, policyRow{Node: m.GetMember(), Policy: m.GetPolicy(), Error: m.GetError()})
	}
	return c.printPolicies(group, rows, first)
}

// printPolicies prints policy --all's rows and returns first, the error
// the command exits with.
func (c *call) printPolicies(group string, rows []policyRow, first error) error {
	if c.output == "json" {
		if err := c.printJSON(map[string]any{"group": group, "members": rows}); err != nil {
			return err
		}
		return first
	}
	tw := tabwriter.NewWriter(c.io.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tPOLICY")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\n", r.Node, orDash(r.Policy+r.Error))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return first
}

// eachMember calls fn, in member order, with a client of each member of
// the cluster as the node reached lists them, at the address the member
// advertises and with the scheme of --addr.
func (c *call) eachMember(ctx context.Context, fn func(context.Context, *distcachev1.Member, *client.Client)) error {
	res, err := c.client.Members(ctx)
	if err != nil {
		return err
	}
	scheme := "http"
	if u, err := url.Parse(c.urls[0]); err == nil {
		scheme = u.Scheme
	}
	for _, m := range res.GetMembers() {
		mc, err := c.newClient([]string{scheme + "://" + m.GetAddress()}, false)
		if err != nil {
			return fmt.Errorf("member %s at %q: %w", m.GetId(), m.GetAddress(), err)
		}
		fn(ctx, m, mc)
		mc.Close()
	}
	return nil
}

// totals are the counters watch prints, summed over the groups.
type totals struct {
	Time      string  `json:"time"`
	Gets      int64   `json:"gets"`
	GetsPerS  float64 `json:"getsPerSecond"`
	Hits      int64   `json:"hits"`
	HitRatio  float64 `json:"hitRatio"`
	Misses    int64   `json:"misses"`
	Loads     int64   `json:"loads"`
	Items     int64   `json:"items"`
	Bytes     int64   `json:"bytes"`
	Evictions int64   `json:"evictions"`
}

func runWatch(ctx context.Context, c *call) error {
	group := ""
	if len(c.args) == 1 {
		group = c.args[0]
	}
	tick := time.NewTicker(c.interval)
	defer tick.Stop()
	var (
		prev   totals
		prevAt time.Time
	)
	for n := 0; c.count == 0 || n < c.count; n++ {
		if n > 0 {
			select {
			case <-ctx.Done():
				return nil // Ctrl-C ends a watch; that is not a failure
			case <-tick.C:
			}
		}
		pctx, cancel := ctx, context.CancelFunc(func() {})
		if c.timeout > 0 {
			pctx, cancel = context.WithTimeout(ctx, c.timeout)
		}
		gs, err := c.client.Stats(pctx, group)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			if n == 0 {
				return err
			}
			fmt.Fprintf(c.io.Stderr, "distcache watch: %v\n", strings.TrimPrefix(err.Error(), "distcache: "))
			continue
		}
		now := time.Now()
		t := totals{Time: now.Format(time.TimeOnly)}
		for _, g := range gs {
			t.Gets += g.GetGets()
			t.Hits += g.GetHits()
			t.Misses += g.GetMisses()
			t.Loads += g.GetLoads()
			t.Items += g.GetItems()
			t.Bytes += g.GetBytes()
			t.Evictions += g.GetEvictions()
		}
		if t.Gets > 0 {
			t.HitRatio = float64(t.Hits) / float64(t.Gets)
		}
		if !prevAt.IsZero() {
			t.GetsPerS = float64(t.Gets-prev.Gets) / now.Sub(prevAt).Seconds()
		}
		prev, prevAt = t, now
		if c.output == "json" {
			err = c.printJSON(t)
		} else {
			if n == 0 {
				fmt.Fprintf(c.io.Stdout, "%-8s %12s %10s %6s %12s %12s %10s %10s %12s %10s\n",
					"TIME", "GETS", "GETS/S", "HIT%", "HITS", "MISSES", "LOADS", "ITEMS", "BYTES", "EVICTIONS")
			}
			_, err = fmt.Fprintf(c.io.Stdout, "%-8s %12d %10.0f %6.1f %12d %12d %10d %10d %12d %10d\n",
				t.Time, t.Gets, t.GetsPerS, 100*t.HitRatio, t.Hits, t.Misses, t.Loads, t.Items, t.Bytes, t.Evictions)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// printJSON writes v as one line of JSON.
func (c *call) printJSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = c.io.Stdout.Write(append(b, '\n'))
	return err
}

// protoJSON is m in the API's JSON form (as Connect and buf curl print it).
func (c *call) protoJSON(m proto.Message) json.RawMessage {
	b, err := protojson.Marshal(m)
	if err != nil {
		// protojson fails only on invalid UTF-8 in a string field, which
		// the node's own answers cannot carry.
		b, _ = json.Marshal(map[string]string{"error": err.Error()})
	}
	return b
}

func (c *call) printProto(m proto.Message) error {
	return c.printJSON(c.protoJSON(m))
}
