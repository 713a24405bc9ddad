package resp_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/distcache/distcache/server/node"
)

// TestBadInput sends bad commands of every kind: each gets a clear error,
// changes nothing, and the connection serves on.
func TestBadInput(t *testing.T) {
	n := startNode(t, false, nil)
	c := n.client(t, nil)
	ctx := context.Background()
	if err := c.Set(ctx, "users:keep", "old", 0).Err(); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", testMaxValue+1)
	run(t, c, []step{
		{args("GET"), "error: ERR wrong number of arguments for 'get' command", false},
		{args("GET", "a", "b"), "error: ERR wrong number of arguments for 'get' command", false},
		{args("SET", "users:keep"), "error: ERR wrong number of arguments for 'set' command", false},
		{args("MSET", "users:keep", "new", "users:odd"), "error: ERR wrong number of arguments for 'mset' command", false},
		{args("TTL"), "error: ERR wrong number of arguments for 'ttl' command", false},
		{args("SELECT", "1"), "error: ERR DB index is out of range", false},
		{args("SELECT", "x"), "error: ERR value is not an integer or out of range", false},
		{args("SET", "users:keep", "new", "EX", "ten"), "error: ERR value is not an integer or out of range", false},
		{args("SET", "users:keep", "new", "EX", "0"), "error: ERR invalid expire time in 'set' command", false},
		{args("SET", "users:keep", "new", "PX", "-5"), "error: ERR invalid expire time in 'set' command", false},
		{args("SET", "users:keep", "new", "EX"), "error: ERR syntax error", false},
		{args("SET", "users:keep", "new", "EX", "1", "PX", "1"), "error: ERR syntax error", false},
		{args("SET", "users:keep", "new", "SOON"), "error: ERR syntax error", false},
		{args("SET", "users:keep", "new", "NX"), "error: ERR SET option NX is not supported", true},
		{args("SET", "users:keep", "new", "EX", "99999999999"), "error: ERR invalid_argument: validation error: ttl", true},
		{args("EXPIRE", "users:keep", "x"), "error: ERR value is not an integer or out of range", false},
		{args("EXPIRE", "users:keep", "10", "NX"), "error: ERR EXPIRE options (NX, XX, GT, LT) are not supported", true},
		{args("SET", "users:keep", big), "error: ERR invalid_argument: validation error: value: value length must be at most 1024 bytes", true},
		// Within the command limit but over the handler's read limit.
		{args("SET", "users:keep", strings.Repeat("x", 50<<10)), "error: ERR resource_exhausted: message size", true},
		{args("MSET", "users:keep", "new", "users:big", big), "error: ERR invalid_argument: value length must be at most 1024 bytes", true},
		{args("MSET", "users:keep", "new", strings.Repeat("k", 251), "v"), "error: ERR invalid_argument: validation error: key", true},
		{args("SET", "", "v"), "error: ERR invalid_argument: validation error: key: must be at least 1 bytes", false},
		{args("GET", strings.Repeat("k", 251)), "error: ERR invalid_argument: validation error: key: must be at most 250 bytes", false},
		{args("GET", "bad\xffkey"), `error: ERR invalid_argument: invalid key "bad\\xffkey": distcache keys are UTF-8 text`, false},
		{args("MGET", "users:keep", "\xff"), "error: ERR invalid_argument: invalid key", true},
		{args("FLUSHALL"), "error: ERR unknown command 'FLUSHALL', with args beginning with: ", false},
		{args("HSET", "h", "f", "v"), "error: ERR unknown command 'HSET', with args beginning with: 'h' 'f' 'v' ", false},
		{args("CLIENT", "KILL"), "error: ERR unknown subcommand 'KILL'. Try CLIENT HELP.", false},
		{args("CLIENT", "SETNAME", "a b"), "error: ERR Client names cannot contain spaces", true},
		{args("COMMAND", "NOPE"), "error: ERR unknown subcommand 'NOPE'. Try COMMAND HELP.", false},
		{args("HELLO", "x"), "error: ERR Protocol version is not an integer or out of range", false},
		{args("HELLO", "2", "BOGUS"), "error: ERR Syntax error in HELLO option 'BOGUS'", false},
		{args("AUTH", "a", "b", "c"), "error: ERR syntax error", false},
		{args("PING", "a", "b"), "error: ERR wrong number of arguments for 'ping' command", false},
		// Nothing above changed the value, and the connection serves on.
		{args("GET", "users:keep"), "old", false},
		{args("TTL", "users:keep"), "-1", false},
		{args("MGET", "users:big"), "[(nil)]", false},
	})
}

// TestCommandTooLarge sends commands over the node's limit: the
// connection gets a protocol error and is closed before the command is
// read whole; the node serves on.
func TestCommandTooLarge(t *testing.T) {
	n := startNode(t, false, nil)
	for name, send := range map[string]string{
		// A bulk length far over the limit, then bytes that never end.
		"bulk":   "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1000000000\r\n" + strings.Repeat("x", 200<<10),
		"inline": strings.Repeat("x", 200<<10),
	} {
		t.Run(name, func(t *testing.T) {
			r := n.raw(t)
			r.send(send)
			line, err := r.line()
			if err != nil || !strings.HasPrefix(line, "-ERR Protocol error: command of more than") {
				t.Fatalf("answer = %q, %v; want a protocol error", line, err)
			}
			if _, err := r.line(); err == nil {
				t.Fatal("the connection is still open")
			}
			if got := n.raw(t).do("PING"); got != "+PONG" {
				t.Fatalf("PING on a new connection = %q", got)
			}
		})
	}
}

// TestInlineAndPipeline sends an inline command (as telnet does) and a
// pipeline of commands in one write.
func TestInlineAndPipeline(t *testing.T) {
	n := startNode(t, false, nil)
	r := n.raw(t)
	r.send("SET users:i \"a b\"\r\n")
	if got, err := r.line(); got != "+OK" || err != nil {
		t.Fatalf("inline SET = %q, %v", got, err)
	}
	r.send(encode("GET", "users:i") + encode("PING") + encode("NOPE") + encode("GET", "users:none"))
	for _, want := range []string{"$3", "a b", "+PONG", "-ERR unknown command 'NOPE', with args beginning with: ", "$-1"} {
		if got, err := r.line(); got != want || err != nil {
			t.Fatalf("pipeline answer = %q, %v; want %q", got, err, want)
		}
	}
}

// TestRateLimit checks that a group's rate limit holds over RESP: the
// bucket of two calls is shared by GET and SET.
func TestRateLimit(t *testing.T) {
	n := startNode(t, false, nil)
	c := n.client(t, nil)
	run(t, c, []step{
		{args("SET", "limited:a", "1"), "OK", false},
		{args("GET", "limited:a"), "1", false},
		{args("GET", "limited:a"), "error: ERR resource_exhausted: ", true},
		{args("GET", "users:a"), "(nil)", false}, // other groups are not limited
	})
}

// TestMaxConns checks the node's connection limit: a connection over it
// is told so and closed; one closing makes room.
func TestMaxConns(t *testing.T) {
	n := startNode(t, false, func(c *node.Config) { c.Conns.MaxConns = 2 })
	a, b := n.raw(t), n.raw(t)
	for _, r := range []*rawConn{a, b} {
		if got := r.do("PING"); got != "+PONG" {
			t.Fatalf("PING = %q", got)
		}
	}
	over := n.raw(t)
	if line, err := over.line(); line != "-ERR max number of clients reached" {
		t.Fatalf("third connection: %q, %v", line, err)
	}
	if _, err := over.line(); err == nil {
		t.Fatal("third connection still open")
	}
	if got := a.do("QUIT"); got != "+OK" {
		t.Fatalf("QUIT = %q", got)
	}
	if _, err := a.line(); err == nil {
		t.Fatal("connection open after QUIT")
	}
	// The server forgets a at once or a moment later: poll.
	c := n.client(t, &redis.Options{PoolSize: 1})
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if err = c.Ping(context.Background()).Err(); err == nil {
			return
		}
	}
	t.Fatalf("PING after a connection closed: %v", err)
}
