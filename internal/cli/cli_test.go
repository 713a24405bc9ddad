package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/distcache/distcache/internal/cli"
	"github.com/distcache/distcache/internal/wasmbuild"
	"github.com/distcache/distcache/server/node"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// The nodes' database driver and HTTP/2 transports park these
		// until process exit.
		goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
	)
}

var wasm wasmbuild.Builder

// run runs the client with args against addr and returns the exit code,
// stdout and stderr. stdin, if not nil, is piped in.
func run(t *testing.T, addr string, stdin []byte, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	sio := cli.IO{Stdout: &stdout, Stderr: &stderr, Stdin: bytes.NewReader(stdin),
		Getenv: func(k string) string {
			if k == "DISTCACHE_ADDR" {
				return addr
			}
			return ""
		},
		StdinIsTerminal: stdin == nil,
	}
	code := cli.Main(context.Background(), args, sio)
	return code, stdout.String(), stderr.String()
}

// mustRun is run that fails the test unless the exit code is want.
func mustRun(t *testing.T, want int, addr string, stdin []byte, args ...string) string {
	t.Helper()
	code, out, errOut := run(t, addr, stdin, args...)
	if code != want {
		t.Fatalf("distcache %s: exit %d, want %d; stdout %q, stderr %q", strings.Join(args, " "), code, want, out, errOut)
	}
	return out
}

// startNode starts a node on 127.0.0.1 and returns its host:port; it
// stops when the test ends.
func startNode(t *testing.T, cfg node.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serve(t, cfg, ln)
}

func serve(t *testing.T, cfg node.Config, ln net.Listener) string {
	t.Helper()
	dir := t.TempDir()
	if cfg.DBPath == "" {
		cfg.DBPath = filepath.Join(dir, "distcache.db")
	}
	// The commands do not care where plugins come from: spare every node
	// the built-in plugins' compiles (slow under the race detector).
	cfg.NoBuiltinPlugins = true
	if cfg.PluginsDir == "" {
		cfg.PluginsDir = filepath.Join(dir, "plugins")
		if err := os.Mkdir(cfg.PluginsDir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	n, err := node.New(context.Background(), cfg)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := errors.Join(<-done, n.Close()); err != nil {
			t.Errorf("stopping node: %v", err)
		}
	})
	return ln.Addr().String()
}

func TestGetSetDel(t *testing.T) {
	addr := startNode(t, node.Config{})

	mustRun(t, cli.ExitNotFound, addr, nil, "get", "cli-greeting")
	if out := mustRun(t, cli.ExitOK, addr, nil, "set", "cli-greeting", "world"); out != "OK\n" {
		t.Errorf("set printed %q, want OK", out)
	}
	if out := mustRun(t, cli.ExitOK, addr, nil, "get", "cli-greeting"); out != "world" {
		t.Errorf("get printed %q, want the raw value world (no newline into a pipe)", out)
	}

	// Any bytes, from stdin, come back exactly.
	var binary []byte
	for i := range 256 {
		binary = append(binary, byte(i))
	}
	mustRun(t, cli.ExitOK, addr, binary, "set", "bin")
	if out := mustRun(t, cli.ExitOK, addr, nil, "get", "bin"); out != string(binary) {
		t.Errorf("get bin = %q, want the 256 bytes set from stdin", out)
	}
	var j map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, cli.ExitOK, addr, nil, "get", "-o", "json", "bin")), &j); err != nil {
		t.Fatal(err)
	}
	if j["value"] != nil || j["valueBase64"] == nil || j["group"] != "default" || j["key"] != "bin" {
		t.Errorf("get -o json of a binary value = %v, want valueBase64 and no value", j)
	}

	// Flags after the arguments, and "--" before a value that starts with
	// a dash.
	mustRun(t, cli.ExitOK, addr, nil, "set", "neg", "--ttl", "1h", "--", "-5")
	if out := mustRun(t, cli.ExitOK, addr, nil, "get", "neg"); out != "-5" {
		t.Errorf("get neg = %q, want -5", out)
	}
	j = nil
	if err := json.Unmarshal([]byte(mustRun(t, cli.ExitOK, addr, nil, "get", "neg", "-o", "json")), &j); err != nil {
		t.Fatal(err)
	}
	ttl, err := time.ParseDuration(fmt.Sprint(j["ttl"]))
	if err != nil || ttl <= 0 || ttl > time.Hour {
		t.Errorf("ttl of a key set with --ttl 1h = %v (%v), want in (0, 1h]", j["ttl"], err)
	}
	if j["value"] != "-5" || j["source"] != "local" {
		t.Errorf("get -o json = %v", j)
	}

	mustRun(t, cli.ExitOK, addr, nil, "del", "cli-greeting", "bin", "neg")
	for _, k := range []string{"cli-greeting", "bin", "neg"} {
		mustRun(t, cli.ExitNotFound, addr, nil, "get", k)
	}
	mustRun(t, cli.ExitOK, addr, nil, "del", "never-was")

	// A key the source has is loaded through.
	if out := mustRun(t, cli.ExitOK, addr, nil, "get", "-g", "default", "greeting"); out != "Hello from distcache!" {
		t.Errorf("get greeting (a demo row of the embedded database) = %q", out)
	}
}

func TestExitCodes(t *testing.T) {
	addr := startNode(t, node.Config{AdminToken: "tok", MaxValueBytes: 10})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()

	for _, tc := range []struct {
		name  string
		stdin []byte
		args  []string
		want  int
		msg   string // in stderr
	}{
		{"unknown command", nil, []string{"frob"}, cli.ExitUsage, `unknown command "frob"`},
		{"missing key", nil, []string{"get"}, cli.ExitUsage, "missing argument"},
		{"too many", nil, []string{"get", "a", "b"}, cli.ExitUsage, "too many arguments"},
		{"bad flag", nil, []string{"get", "--bogus", "a"}, cli.ExitUsage, "bogus"},
		{"bad output", nil, []string{"get", "-o", "yaml", "a"}, cli.ExitUsage, `-o "yaml"`},
		{"bad ttl", nil, []string{"set", "--ttl", "soon", "a", "b"}, cli.ExitUsage, "duration"},
		{"negative ttl", nil, []string{"set", "--ttl", "-1s", "a", "b"}, cli.ExitUsage, "negative"},
		{"bad addr", nil, []string{"get", "--addr", "nohost", "a"}, cli.ExitUsage, `--addr "nohost"`},
		{"bad protocol", nil, []string{"get", "--protocol", "smtp", "a"}, cli.ExitUsage, "smtp"},
		{"no value on a terminal", nil, []string{"set", "a"}, cli.ExitUsage, "no VALUE"},
		{"value over the limit", nil, []string{"set", "a", "0123456789x"}, cli.ExitUsage, "invalid_argument"},
		{"key too long", nil, []string{"set", strings.Repeat("k", 251), "v"}, cli.ExitUsage, "invalid_argument"},
		{"unknown group", nil, []string{"get", "-g", "nogroup", "a"}, cli.ExitNotFound, "nogroup"},
		{"admin call without token", nil, []string{"policy", "default", "lru"}, cli.ExitDenied, "unauthenticated"},
		{"admin call with a wrong token", nil, []string{"policy", "default", "lru", "--admin-token", "nope"}, cli.ExitDenied, "admin"},
		{"unknown policy", nil, []string{"policy", "default", "nosuch", "--admin-token", "tok"}, cli.ExitUsage, "nosuch"},
		{"node down", nil, []string{"get", "--addr", closed, "a"}, cli.ExitUnavailable, "unavailable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := run(t, addr, tc.stdin, tc.args...)
			if code != tc.want || !strings.Contains(errOut, tc.msg) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, errOut, tc.want, tc.msg)
			}
			if tc.want != cli.ExitUsage || !strings.Contains(errOut, "usage") {
				if out != "" {
					t.Errorf("stdout %q, want nothing on a failure", out)
				}
			}
		})
	}
	// Nothing the failures tried was stored.
	mustRun(t, cli.ExitNotFound, addr, nil, "get", "a")
	if out := mustRun(t, cli.ExitOK, addr, nil, "policy", "default"); !strings.Contains(out, "lru") {
		t.Errorf("policy default = %q after refused switches, want the native lru still", out)
	}
}

func TestTokens(t *testing.T) {
	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, []byte("read reader-token-0123\nread,write writer-token-0123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := startNode(t, node.Config{TokensFile: tokens})
	mustRun(t, cli.ExitDenied, addr, nil, "set", "k", "v")
	mustRun(t, cli.ExitDenied, addr, nil, "set", "k", "v", "--token", "reader-token-0123")
	mustRun(t, cli.ExitOK, addr, nil, "set", "k", "v", "--token", "writer-token-0123")
	if out := mustRun(t, cli.ExitOK, addr, nil, "get", "k", "--token", "reader-token-0123"); out != "v" {
		t.Errorf("get with a read token = %q, want v", out)
	}
	mustRun(t, cli.ExitDenied, addr, nil, "get", "k")
}

// TestEnvironment checks that DISTCACHE_TOKEN and DISTCACHE_GROUP stand
// for the flags, and that a flag wins.
func TestEnvironment(t *testing.T) {
	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, []byte("read,write env-token-0123456\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := startNode(t, node.Config{TokensFile: tokens})
	env := map[string]string{"DISTCACHE_ADDR": "http://" + addr, "DISTCACHE_TOKEN": "env-token-0123456", "DISTCACHE_GROUP": "nogroup"}
	var stdout, stderr bytes.Buffer
	sio := cli.IO{Stdout: &stdout, Stderr: &stderr, Stdin: strings.NewReader(""), Getenv: func(k string) string { return env[k] }}
	if code := cli.Main(context.Background(), []string{"set", "k", "v"}, sio); code != cli.ExitNotFound || !strings.Contains(stderr.String(), "nogroup") {
		t.Errorf("set with DISTCACHE_GROUP=nogroup: exit %d, stderr %q; want not found naming nogroup", code, stderr.String())
	}
	stderr.Reset()
	if code := cli.Main(context.Background(), []string{"set", "-g", "default", "k", "v"}, sio); code != cli.ExitOK {
		t.Errorf("set -g default with DISTCACHE_TOKEN: exit %d, stderr %q", code, stderr.String())
	}
}

func TestAdminCommands(t *testing.T) {
	plugins := filepath.Join(t.TempDir(), "plugins")
	if err := os.Mkdir(plugins, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(plugins, "fifo.wasm"), wasm.Bytes(t, "policy/fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := startNode(t, node.Config{AdminToken: "tok", PluginsDir: plugins})
	waitFor(t, func() bool {
		_, out, _ := run(t, addr, nil, "plugins")
		return strings.Contains(out, "fifo")
	})
	out := mustRun(t, cli.ExitOK, addr, nil, "plugins")
	if !strings.HasPrefix(out, "NAME  ") || !strings.Contains(out, "ORIGIN") {
		t.Errorf("plugins:\n%s", out)
	}
	for _, want := range []string{"fifo  policy  file    serving", "STATE", "FAILURES", "LAST FAILURE"} {
		if !strings.Contains(out, want) {
			t.Errorf("plugins has no line with %q:\n%s", want, out)
		}
	}
	var lp struct {
		Plugins []struct {
			Name, Kind, Sha256, Origin, File, State string
		}
	}
	if err := json.Unmarshal([]byte(mustRun(t, cli.ExitOK, addr, nil, "plugins", "-o", "json")), &lp); err != nil {
		t.Fatal(err)
	}
	var fifo int
	for i, p := range lp.Plugins {
		if p.Name == "fifo" {
			fifo = i
		}
	}
	if p := lp.Plugins[fifo]; p.Name != "fifo" || p.Kind != "PLUGIN_KIND_POLICY" || len(p.Sha256) != 64 ||
		p.Origin != "PLUGIN_ORIGIN_FILE" || p.File != filepath.Join(plugins, "fifo.wasm") || p.State != "PLUGIN_STATE_SERVING" {
		t.Errorf("plugins -o json = %+v, want fifo from its file", lp)
	}

	if out := mustRun(t, cli.ExitOK, addr, nil, "policy", "default", "fifo", "--admin-token", "tok"); !strings.HasPrefix(out, "fifo (wasm") {
		t.Errorf("policy default fifo printed %q", out)
	}
	if out := mustRun(t, cli.ExitOK, addr, nil, "policy", "default"); !strings.HasPrefix(out, "fifo (wasm") {
		t.Errorf("policy default after the switch = %q, want fifo", out)
	}

	for i := range 5 {
		mustRun(t, cli.ExitOK, addr, nil, "set", "k"+strconv.Itoa(i), "v")
		mustRun(t, cli.ExitOK, addr, nil, "get", "k"+strconv.Itoa(i))
	}
	mustRun(t, cli.ExitNotFound, addr, nil, "get", "missing")
	out = mustRun(t, cli.ExitOK, addr, nil, "stats")
	if !strings.Contains(out, "default") || !strings.Contains(out, "fifo") {
		t.Errorf("stats:\n%s", out)
	}
	var st struct {
		Groups []struct {
			Group      string
			Gets, Hits string
		}
	}
	if err := json.Unmarshal([]byte(mustRun(t, cli.ExitOK, addr, nil, "stats", "default", "-o", "json")), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Groups) != 1 || st.Groups[0].Gets != "6" || st.Groups[0].Hits != "5" {
		t.Errorf("stats -o json = %+v, want 6 gets, 5 hits", st)
	}

	// watch prints --count lines, the totals first.
	lines := strings.Split(strings.TrimSpace(mustRun(t, cli.ExitOK, addr, nil, "watch", "--count", "2", "--interval", "1ms", "-o", "json")), "\n")
	if len(lines) != 2 {
		t.Fatalf("watch --count 2 printed %d lines: %q", len(lines), lines)
	}
	var w struct{ Gets, Hits, Items int64 }
	if err := json.Unmarshal([]byte(lines[0]), &w); err != nil {
		t.Fatal(err)
	}
	if w.Gets != 6 || w.Hits != 5 || w.Items < 5 {
		t.Errorf("watch line %s, want 6 gets, 5 hits, 5 or more items", lines[0])
	}
	text := strings.Split(strings.TrimSpace(mustRun(t, cli.ExitOK, addr, nil, "watch", "default", "--count", "1")), "\n")
	if len(text) != 2 || !strings.HasPrefix(text[0], "TIME") {
		t.Errorf("watch --count 1 text = %q, want a header and one line", text)
	}
}

func TestCluster(t *testing.T) {
	var lns []net.Listener
	var peers []string
	for i := range 3 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		peers = append(peers, fmt.Sprintf("n%d=%s", i, ln.Addr()))
	}
	db := filepath.Join(t.TempDir(), "shared.db")
	plugins := filepath.Join(t.TempDir(), "plugins")
	if err := os.Mkdir(plugins, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(plugins, "fifo.wasm"), wasm.Bytes(t, "policy/fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	var addrs []string
	for i, ln := range lns {
		cfg := node.Config{DBPath: db, AdminToken: "tok", PluginsDir: plugins}
		cfg.Cluster.NodeID = fmt.Sprintf("n%d", i)
		cfg.Cluster.Advertise = ln.Addr().String()
		cfg.Cluster.Peers = peers
		cfg.Cluster.Secret = "s"
		cfg.Cluster.SharedDB = true
		addrs = append(addrs, serve(t, cfg, ln))
	}
	a := addrs[0]

	var ms struct {
		Members []struct{ ID, Address string }
		Self    string
	}
	if err := json.Unmarshal([]byte(mustRun(t, cli.ExitOK, a, nil, "members", "-o", "json")), &ms); err != nil {
		t.Fatal(err)
	}
	if len(ms.Members) != 3 || ms.Self != "n0" {
		t.Fatalf("members = %+v, want 3 with self n0", ms)
	}
	out := mustRun(t, cli.ExitOK, a, nil, "members")
	if !strings.Contains(out, "*  n0") || strings.Count(out, "alive") != 3 {
		t.Errorf("members:\n%s", out)
	}

	// Each node agrees on the owner; a Set through any node is read back
	// through every node.
	owners := map[string]bool{}
	for i := range 12 {
		key := "key-" + strconv.Itoa(i)
		var own []string
		for _, ad := range addrs {
			own = append(own, mustRun(t, cli.ExitOK, ad, nil, "owner", key))
		}
		if own[0] != own[1] || own[1] != own[2] {
			t.Errorf("owner %s differs between nodes: %q", key, own)
		}
		owners[strings.Fields(own[0])[0]] = true
		mustRun(t, cli.ExitOK, addrs[i%3], nil, "set", key, "v"+strconv.Itoa(i))
		for _, ad := range addrs {
			if got := mustRun(t, cli.ExitOK, ad, nil, "get", key); got != "v"+strconv.Itoa(i) {
				t.Errorf("get %s through %s = %q", key, ad, got)
			}
		}
	}
	if len(owners) < 2 {
		t.Errorf("12 keys all owned by %v", owners)
	}

	// --all asks every member.
	out = mustRun(t, cli.ExitOK, a, nil, "stats", "--all")
	for i := range 3 {
		if !strings.Contains(out, fmt.Sprintf("n%d ", i)) {
			t.Errorf("stats --all has no row of n%d:\n%s", i, out)
		}
	}
	var pol struct {
		Members []struct{ Node, Policy, Error string }
	}
	if err := json.Unmarshal([]byte(mustRun(t, cli.ExitOK, a, nil, "policy", "default", "--all", "-o", "json")), &pol); err != nil {
		t.Fatal(err)
	}
	var nodes []string
	for _, m := range pol.Members {
		nodes = append(nodes, m.Node)
		if m.Policy == "" || m.Error != "" {
			t.Errorf("policy --all row %+v", m)
		}
	}
	if !slices.Equal(nodes, []string{"n0", "n1", "n2"}) {
		t.Errorf("policy --all nodes = %v", nodes)
	}

	// A switch with --all goes through the node reached, which switches
	// every member and answers for each.
	for _, ad := range addrs {
		waitFor(t, func() bool {
			_, out, _ := run(t, ad, nil, "plugins")
			return strings.Contains(out, "fifo")
		})
	}
	out = mustRun(t, cli.ExitOK, a, nil, "policy", "default", "fifo", "--all", "--admin-token", "tok")
	if !strings.HasPrefix(out, "NODE  POLICY\n") || strings.Count(out, "fifo (wasm") != 3 {
		t.Errorf("policy default fifo --all:\n%s", out)
	}
	for _, ad := range addrs {
		if got := mustRun(t, cli.ExitOK, ad, nil, "policy", "default"); !strings.HasPrefix(got, "fifo (wasm") {
			t.Errorf("policy default on %s after --all = %q", ad, got)
		}
	}
	mustRun(t, cli.ExitDenied, a, nil, "policy", "default", "lru", "--all", "--admin-token", "nope")
}

func TestCommandInNodeArgs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string // nil: the node's own flags
	}{
		{[]string{"get", "k"}, []string{"get", "k"}},
		{[]string{"--addr", "h:1", "get", "k"}, []string{"get", "--addr", "h:1", "k"}},
		{[]string{"-addr=h:1", "-o", "json", "stats"}, []string{"stats", "-addr=h:1", "-o", "json"}},
		{[]string{"help"}, []string{"help"}},
		{[]string{}, nil},
		{[]string{"--addr", ":8080"}, nil},
		{[]string{"--addr", ":8080", "--db", "get"}, nil},
		{[]string{"--trace-stdout", "get"}, nil},
		{[]string{"serve"}, nil},
	} {
		got, ok := cli.Command(tc.args)
		if ok != (tc.want != nil) || !slices.Equal(got, tc.want) {
			t.Errorf("Command(%q) = %q, %v; want %q", tc.args, got, ok, tc.want)
		}
	}
}

func TestHelp(t *testing.T) {
	out := mustRun(t, cli.ExitOK, "127.0.0.1:1", nil, "help")
	for _, c := range []string{"get", "set", "del", "stats", "members", "owner", "plugins", "policy", "watch", "Exit codes"} {
		if !strings.Contains(out, c) {
			t.Errorf("help does not mention %q", c)
		}
	}
	if out := mustRun(t, cli.ExitOK, "127.0.0.1:1", nil, "set", "-h"); !strings.Contains(out, "-ttl") {
		t.Errorf("set -h does not list --ttl:\n%s", out)
	}
}

// waitFor polls cond until it holds, failing the test after a deadline
// that only keeps a broken test from hanging.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
