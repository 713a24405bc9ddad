package resp_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// show is a go-redis result as text: the value, "(nil)", "[a b]" for an
// array, or "error: <message>".
func show(v any, err error) string {
	switch {
	case errors.Is(err, redis.Nil):
		return "(nil)"
	case err != nil:
		return "error: " + err.Error()
	}
	switch v := v.(type) {
	case nil:
		return "(nil)"
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = show(e, nil)
		}
		return "[" + strings.Join(parts, " ") + "]"
	}
	return fmt.Sprint(v)
}

// do runs one command with go-redis and shows its answer.
func do(c *redis.Client, args ...any) string {
	return show(c.Do(context.Background(), args...).Result())
}

// step is one command of a sequence and the answer it must get: the exact
// text, or its start when prefix is set.
type step struct {
	args   []any
	want   string
	prefix bool
}

// run runs steps in order, each as a subtest.
func run(t *testing.T, c *redis.Client, steps []step) {
	t.Helper()
	for _, s := range steps {
		t.Run(fmt.Sprint(s.args...), func(t *testing.T) {
			got := do(c, s.args...)
			if got != s.want && !(s.prefix && strings.HasPrefix(got, s.want)) {
				t.Fatalf("%v = %q, want %q", s.args, got, s.want)
			}
		})
	}
}

func args(a ...any) []any { return a }

// TestCommands runs every command of the subset through go-redis, with
// its default options: HELLO 3 is refused, so it falls back to RESP2 and
// sends CLIENT SETINFO.
func TestCommands(t *testing.T) {
	n := startNode(t, false, nil)
	c := n.client(t, &redis.Options{ClientName: "tester"})
	run(t, c, []step{
		{args("PING"), "PONG", false},
		{args("PING", "hi"), "hi", false},
		{args("ECHO", "x y"), "x y", false},
		{args("CLIENT", "GETNAME"), "tester", false}, // sent by go-redis on connect
		{args("CLIENT", "SETNAME", "other"), "OK", false},
		{args("CLIENT", "GETNAME"), "other", false},
		{args("CLIENT", "SETINFO", "LIB-NAME", "x"), "OK", false},
		{args("SELECT", "0"), "OK", false},
		{args("GET", "k"), "(nil)", false},
		{args("SET", "k", "v"), "OK", false},
		{args("GET", "k"), "v", false},
		{args("GET", "hello"), "world", false}, // read through to the demo table
		{args("EXISTS", "k", "hello", "nope", "k"), "3", false},
		{args("MSET", "a", "1", "users:b", "2"), "OK", false},
		{args("MGET", "a", "users:b", "nope", "k", "b"), "[1 2 (nil) v (nil)]", false},
		{args("DEL", "k", "users:b"), "2", false},
		{args("GET", "k"), "(nil)", false},
		{args("MGET", "users:b"), "[(nil)]", false},
		{args("SET", "e", "v", "EX", "100"), "OK", false},
		{args("TTL", "nope"), "-2", false},
		{args("PTTL", "nope"), "-2", false},
		{args("TTL", "a"), "-1", false}, // the default group has no ttl
		{args("EXPIRE", "a", "200"), "1", false},
		{args("EXPIRE", "nope", "200"), "0", false},
		{args("GET", "a"), "1", false},
		{args("EXPIRE", "a", "0"), "1", false}, // deletes, as in Redis
		{args("GET", "a"), "(nil)", false},
		{args("PEXPIRE", "e", "50000"), "1", false},
		{args("COMMAND", "COUNT"), strconv.Itoa(19), false},
		{args("COMMAND", "DOCS"), "[]", false},
		{args("COMMAND", "INFO", "get", "nope"), "[[get 2 [] 1 1 1 [] [] [] []] (nil)]", false},
		{args("HELLO", "2"), "[server redis version 7.0.0 proto 2 id", true},
		{args("HELLO", "3"), "error: NOPROTO unsupported protocol version", false},
		{args("AUTH", "secret"), "error: ERR AUTH <password> called without any password configured", true},
	})
	for _, tc := range []struct {
		args     []any
		min, max int64
	}{
		{args("TTL", "e"), 1, 50},
		{args("PTTL", "e"), 1, 50_000},
	} {
		got, err := c.Do(context.Background(), tc.args...).Int64()
		if err != nil || got < tc.min || got > tc.max {
			t.Errorf("%v = %d, %v; want %d to %d", tc.args, got, err, tc.min, tc.max)
		}
	}
	info, err := c.Info(context.Background()).Result()
	for _, want := range []string{"# Server\r\nredis_version:7.0.0\r\n", "distcache_groups:default,limited,users\r\n",
		"# Keyspace\r\ndb0:keys=", "group_users:items=", "connected_clients:1\r\n"} {
		if err != nil || !strings.Contains(info, want) {
			t.Fatalf("INFO = %q, %v; want it to hold %q", info, err, want)
		}
	}
	if only, err := c.Info(context.Background(), "server").Result(); err != nil || strings.Contains(only, "Keyspace") ||
		!strings.Contains(only, "redis_version") {
		t.Fatalf("INFO server = %q, %v", only, err)
	}
	if err := c.Do(context.Background(), "QUIT").Err(); err != nil {
		t.Fatalf("QUIT: %v", err)
	}
}

// TestGroupMapping checks the key → group rule against the groups
// themselves.
func TestGroupMapping(t *testing.T) {
	n := startNode(t, false, nil)
	c := n.client(t, nil)
	ctx := context.Background()
	for key, value := range map[string]string{
		"users:42": "alice", "nosuchgroup:7": "x", "plain": "y", "users:a:b": "z", ":lead": "w",
	} {
		if err := c.Set(ctx, key, value, 0).Err(); err != nil {
			t.Fatalf("SET %s: %v", key, err)
		}
	}
	for _, tc := range []struct{ group, key, want string }{
		{"users", "42", "alice"},
		{"default", "nosuchgroup:7", "x"},
		{"default", "plain", "y"},
		{"users", "a:b", "z"},
		{"default", ":lead", "w"},
	} {
		g, ok := n.Group(tc.group)
		if !ok {
			t.Fatalf("no group %s", tc.group)
		}
		v, err := g.Get(ctx, tc.key)
		if err != nil || string(v.Bytes) != tc.want {
			t.Errorf("group %s key %q = %q, %v; want %q", tc.group, tc.key, v.Bytes, err, tc.want)
		}
	}
	def, _ := n.Group("default")
	if v, err := def.Get(ctx, "users:42"); err == nil {
		t.Errorf("default group holds users:42 = %q; it belongs to group users", v.Bytes)
	}
	// "users:" names group users with an empty key, which is invalid.
	if got := show(c.Set(ctx, "users:", "v", 0).Result()); !strings.HasPrefix(got, "error: ERR invalid_argument") {
		t.Errorf("SET users: = %q, want an invalid key", got)
	}
}

// TestExpiry waits for an entry set with PX to expire. It polls with a
// deadline and asserts nothing about how long that took.
func TestExpiry(t *testing.T) {
	n := startNode(t, false, nil)
	c := n.client(t, nil)
	ctx := context.Background()
	if err := c.Do(ctx, "SET", "users:short", "v", "PX", "30").Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Do(ctx, "SET", "users:long", "v", "EX", "3600").Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Do(ctx, "SET", "users:later", "v").Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Do(ctx, "PEXPIRE", "users:later", "30").Err(); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"users:short", "users:later"} {
		deadline := time.Now().Add(10 * time.Second)
		for {
			_, err := c.Get(ctx, key).Result()
			if errors.Is(err, redis.Nil) {
				break
			}
			if err != nil || time.Now().After(deadline) {
				t.Fatalf("GET %s: still there (%v) after 10s", key, err)
			}
			time.Sleep(5 * time.Millisecond) // polling, not synchronization
		}
		if ttl := do(c, "TTL", key); ttl != "-2" {
			t.Errorf("TTL %s after expiry = %s, want -2", key, ttl)
		}
	}
	if got := do(c, "GET", "users:long"); got != "v" {
		t.Errorf("GET users:long = %q, want v", got)
	}
}
