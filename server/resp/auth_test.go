package resp_test

import (
	"context"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// TestAuth runs a node with tokens: nothing but AUTH, HELLO and QUIT
// before AUTH, then the token's scopes decide as they do for the RPCs.
func TestAuth(t *testing.T) {
	n := startNode(t, true, nil)
	r := n.raw(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"GET", "users:a"}, "-NOAUTH Authentication required."},
		{[]string{"PING"}, "-NOAUTH Authentication required."},
		{[]string{"INFO"}, "-NOAUTH Authentication required."},
		{[]string{"HELLO", "2"}, "-NOAUTH HELLO must be called with the client already authenticated"},
		{[]string{"AUTH", "wrong-token-0123456789"}, "-WRONGPASS invalid username-password pair or user is disabled."},
		{[]string{"GET", "users:a"}, "-NOAUTH Authentication required."},
		{[]string{"AUTH", readToken}, "+OK"},
		{[]string{"GET", "users:a"}, "$-1"},
		{[]string{"SET", "users:a", "v"}, "-NOPERM /distcache.v1.CacheService/Set needs scope write"},
		{[]string{"DEL", "users:a"}, "-NOPERM /distcache.v1.CacheService/Delete needs scope write"},
		{[]string{"MSET", "users:a", "v"}, "-NOPERM /distcache.v1.CacheService/SetMany needs scope write"},
		{[]string{"PING"}, "+PONG"},
		{[]string{"AUTH", "default", writeToken}, "+OK"},
		{[]string{"SET", "users:a", "v"}, "+OK"},
		{[]string{"HELLO", "2", "AUTH", "default", readToken}, "*14"},
	} {
		if got := r.do(tc.args...); !strings.HasPrefix(got, tc.want) {
			t.Fatalf("%q = %q, want %q", tc.args, got, tc.want)
		}
	}

	ctx := context.Background()
	// go-redis sends HELLO 3 AUTH; refused, it falls back to AUTH.
	for _, opts := range []*redis.Options{{Password: writeToken}, {Username: "default", Password: writeToken}} {
		c := n.client(t, opts)
		if err := c.Set(ctx, "users:b", "w", 0).Err(); err != nil {
			t.Fatalf("SET with %+v: %v", opts, err)
		}
		if got, err := c.Get(ctx, "users:b").Result(); got != "w" || err != nil {
			t.Fatalf("GET = %q, %v", got, err)
		}
		if err := c.Info(ctx).Err(); err != nil {
			t.Fatalf("INFO: %v", err)
		}
	}
	ro := n.client(t, &redis.Options{Password: readToken})
	if err := ro.Set(ctx, "users:b", "x", 0).Err(); err == nil || !strings.HasPrefix(err.Error(), "NOPERM") {
		t.Fatalf("SET with a read token: %v, want NOPERM", err)
	}
	if got, err := ro.Get(ctx, "users:b").Result(); got != "w" || err != nil {
		t.Fatalf("GET with a read token = %q, %v; want the value the read-only SET did not change", got, err)
	}
	bad := n.client(t, &redis.Options{Password: "wrong-token-0123456789"})
	if err := bad.Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Fatalf("PING with a wrong token: %v, want WRONGPASS", err)
	}
	none := n.client(t, nil)
	if err := none.Get(ctx, "users:b").Err(); err == nil || !strings.HasPrefix(err.Error(), "NOAUTH") {
		t.Fatalf("GET without a token: %v, want NOAUTH", err)
	}
}
