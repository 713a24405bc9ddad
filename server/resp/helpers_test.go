package resp_test

import (
	"bufio"
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/distcache/distcache/server/node"
	"github.com/distcache/distcache/server/resp"
)

// testGroups are the groups of every test node: "default" reads through
// to the demo table (hello → world), "users" holds what is set, and
// "limited" allows a client two calls.
const testGroups = `
groups:
  - name: default
    capacity: 4MiB
    loader: {kind: sqlite}
  - name: users
    capacity: 4MiB
  - name: limited
    capacity: 1MiB
    rate_limit: {per_client: 0.001, burst: 2}
`

// testMaxValue is the test nodes' --max-value-bytes.
const testMaxValue = 1024

// The tokens of nodes started with tokens.
const (
	readToken  = "read-token-0123456789"
	writeToken = "write-token-0123456789"
)

// testNode is a node serving RESP on a loopback port for one test.
type testNode struct {
	*node.Node
	addr string
}

// startNode starts a node with testGroups serving RESP, changed by
// change when it is not nil, and stops it when the test ends.
func startNode(t *testing.T, tokens bool, change func(*node.Config)) *testNode {
	t.Helper()
	n := newNode(t, tokens, change)
	srv, err := n.RESPServer("")
	if err != nil {
		t.Fatal(err)
	}
	addr, stop := serve(t, srv)
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return &testNode{Node: n, addr: addr}
}

// serve serves srv on a loopback port and returns its address and a func
// that stops it and returns what Serve returned.
func serve(t *testing.T, srv *resp.Server) (addr string, stop func() error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	return ln.Addr().String(), func() error { cancel(); return <-done }
}

// startNodeOnly makes a node with testGroups that serves nothing yet; it
// is closed when the test ends.
func startNodeOnly(t *testing.T) *node.Node { return newNode(t, false, nil) }

// newNode makes a node with testGroups, closed when the test ends.
func newNode(t *testing.T, tokens bool, change func(*node.Config)) *node.Node {
	t.Helper()
	dir := t.TempDir()
	cfg := node.Config{
		DBPath:     filepath.Join(dir, "distcache.db"),
		ConfigPath: writeFile(t, dir, "groups.yaml", testGroups),
		PluginsDir: t.TempDir(),
		// The Redis protocol does not care which policy serves: spare
		// every node the built-in plugins' compiles.
		NoBuiltinPlugins: true,
		MaxValueBytes:    testMaxValue,
	}
	if tokens {
		cfg.TokensFile = writeFile(t, dir, "tokens", "read "+readToken+"\nread,write "+writeToken+"\n")
	}
	if change != nil {
		change(&cfg)
	}
	n, err := node.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return n
}

// client returns a go-redis client of the node with its default options
// (RESP3 first, then RESP2), closed when the test ends.
func (n *testNode) client(t *testing.T, opts *redis.Options) *redis.Client {
	t.Helper()
	if opts == nil {
		opts = &redis.Options{}
	}
	opts.Addr = n.addr
	opts.MaxRetries = -1 // a test sees each error once
	c := redis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// rawConn is a plain TCP connection to the node, for what go-redis will
// not send.
type rawConn struct {
	t  *testing.T
	c  net.Conn
	rd *bufio.Reader
}

func (n *testNode) raw(t *testing.T) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", n.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	// Only keeps a broken test from hanging.
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	return &rawConn{t: t, c: c, rd: bufio.NewReader(c)}
}

// send writes s as it is.
func (r *rawConn) send(s string) {
	r.t.Helper()
	if _, err := r.c.Write([]byte(s)); err != nil {
		r.t.Fatal(err)
	}
}

// line reads one line of the answer, without its CRLF.
func (r *rawConn) line() (string, error) {
	s, err := r.rd.ReadString('\n')
	return strings.TrimRight(s, "\r\n"), err
}

// do sends a command of args in RESP and returns the first line of the
// answer.
func (r *rawConn) do(args ...string) string {
	r.t.Helper()
	r.send(encode(args...))
	s, err := r.line()
	if err != nil {
		r.t.Fatalf("%q: %v", args, err)
	}
	return s
}

// encode is args as a RESP array of bulk strings.
func encode(args ...string) string {
	var b strings.Builder
	b.WriteString("*" + itoa(len(args)) + "\r\n")
	for _, a := range args {
		b.WriteString("$" + itoa(len(a)) + "\r\n" + a + "\r\n")
	}
	return b.String()
}

func itoa(n int) string { return strconv.Itoa(n) }

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
