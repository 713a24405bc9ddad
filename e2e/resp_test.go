package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	distcachev1 "github.com/distcache/distcache/gen/distcache/v1"

	"github.com/distcache/distcache/internal/testtool"
)

// redisCLI returns the path of redis-cli, skipping the test without it
// (failing it where DISTCACHE_REQUIRE_TOOLS=1, as .ci/run sets).
func redisCLI(t *testing.T) string {
	t.Helper()
	return testtool.Path(t, "redis-cli", "apt-get install -y redis-tools")
}

// TestRedisCLI drives a node's --resp-addr with the real redis-cli, as
// the README shows it: without and with a token.
func TestRedisCLI(t *testing.T) {
	cli := redisCLI(t)
	respAddr := freeAddr(t)
	_, port, _ := net.SplitHostPort(respAddr)
	startNode(t, "--resp-addr", respAddr)
	redisCLIRun := func(t *testing.T, stdin string, args ...string) string {
		t.Helper()
		cmd := exec.Command(cli, append([]string{"-h", "127.0.0.1", "-p", port}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("redis-cli %q: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"PING"}, "PONG"},
		{[]string{"set", "k", "v"}, "OK"},
		{[]string{"get", "k"}, "v"},
		{[]string{"get", "hello"}, "world"}, // read through to the demo table
		{[]string{"get", "nope"}, ""},
		{[]string{"set", "t", "v", "EX", "100"}, "OK"},
		{[]string{"ttl", "k"}, "-1"},
		{[]string{"nosuchcommand"}, "ERR unknown command 'nosuchcommand', with args beginning with:"},
	} {
		if got := redisCLIRun(t, "", tc.args...); got != tc.want {
			t.Errorf("redis-cli %q = %q, want %q", tc.args, got, tc.want)
		}
	}
	if got := redisCLIRun(t, "", "INFO"); !strings.Contains(got, "redis_version:7.0.0") || !strings.Contains(got, "# Keyspace") {
		t.Errorf("redis-cli INFO = %q", got)
	}
	if got := redisCLIRun(t, "SET piped 1\nGET piped\n"); got != "OK\n1" {
		t.Errorf("redis-cli with commands on stdin = %q, want OK and 1", got)
	}

	// With tokens: -a (and --no-auth-warning) sends AUTH first.
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	const token = "e2e-resp-token-0123456789"
	if err := os.WriteFile(tokens, []byte("read,write "+token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	guardedAddr := freeAddr(t)
	_, port, _ = net.SplitHostPort(guardedAddr)
	startNode(t, "--resp-addr", guardedAddr, "--tokens-file", tokens)
	if got := redisCLIRun(t, "", "--no-auth-warning", "-a", token, "set", "k", "v"); got != "OK" {
		t.Errorf("redis-cli -a TOKEN set = %q, want OK", got)
	}
	if got := redisCLIRun(t, "", "--no-auth-warning", "-a", token, "get", "k"); got != "v" {
		t.Errorf("redis-cli -a TOKEN get = %q, want v", got)
	}
	if got := redisCLIRun(t, "", "get", "k"); !strings.HasPrefix(got, "NOAUTH") {
		t.Errorf("redis-cli get without a token = %q, want NOAUTH", got)
	}
}

// TestRESPRouting sets keys over RESP on one node of a cluster and finds
// each held by its owner: the Set went to the owner, not into the node
// that took the command.
func TestRESPRouting(t *testing.T) {
	etcd := startEtcd(t)
	db := filepath.Join(t.TempDir(), "shared.db")
	nodes := make([]*clusterNode, 2)
	respAddrs := make([]string, len(nodes))
	for i := range nodes {
		respAddrs[i] = freeAddr(t)
		nodes[i] = &clusterNode{id: fmt.Sprintf("node%d", i+1), addr: freeAddr(t), db: db, etcd: etcd.clientAddr,
			leaseTTL: 3 * time.Second, args: []string{"--resp-addr", respAddrs[i]}}
		nodes[i].launch(t, t)
	}
	for _, n := range nodes {
		n.waitServing(t)
	}
	waitConverged(t, nodes, ids(nodes...), time.Now(), readyTimeout)

	a := redis.NewClient(&redis.Options{Addr: respAddrs[0], MaxRetries: -1})
	defer a.Close()
	ctx, cancel := context.WithTimeout(t.Context(), readyTimeout)
	defer cancel()
	owned := map[string]int{}
	for i := 0; len(owned) < 2 || owned["node2"] == 0; i++ {
		if i == 200 {
			t.Fatalf("no key owned by node2 among 200: %v", owned)
		}
		key := fmt.Sprintf("routed-%d", i)
		owner := owner(t, nodes[0], key)
		if owned[owner] >= 2 {
			continue
		}
		owned[owner]++
		value := "v-" + key
		if err := a.Set(ctx, key, value, 0).Err(); err != nil {
			t.Fatalf("SET %s on node1: %v", key, err)
		}
		ownerNode := byID(nodes, owner)
		if src := mustGet(t, ownerNode, key, value); src != distcachev1.Source_SOURCE_LOCAL {
			t.Errorf("%s on its owner %s: source %v, want SOURCE_LOCAL (the Set went to the owner)", key, owner, src)
		}
		if got, err := a.Get(ctx, key).Result(); got != value || err != nil {
			t.Errorf("GET %s on node1 = %q, %v; want %q", key, got, err, value)
		}
	}
}
