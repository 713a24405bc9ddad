package resp_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
)

// TestHammer runs clients that set, read, delete and expire the same
// few keys at once (run it with -race): every answer is a value some
// client wrote or nil, never an error, and the keys end as last set.
func TestHammer(t *testing.T) {
	n := startNode(t, false, nil)
	const clients, ops, keys = 8, 200, 8
	var wg sync.WaitGroup
	errc := make(chan error, clients)
	for w := range clients {
		c := n.client(t, &redis.Options{PoolSize: 2})
		wg.Go(func() {
			ctx := context.Background()
			for i := range ops {
				key := fmt.Sprintf("users:k%d", (w+i)%keys)
				var err error
				switch i % 6 {
				case 0, 1:
					err = c.Set(ctx, key, fmt.Sprintf("w%d-%d", w, i), 0).Err()
				case 2:
					var v string
					if v, err = c.Get(ctx, key).Result(); err == nil && !strings.HasPrefix(v, "w") {
						err = fmt.Errorf("GET %s = %q, not a value written", key, v)
					}
				case 3:
					err = c.Del(ctx, key).Err()
				case 4:
					var vs []any
					if vs, err = c.MGet(ctx, key, "users:k0", "hello").Result(); err == nil && vs[2] != "world" {
						err = fmt.Errorf("MGET hello = %v", vs[2])
					}
				case 5:
					err = c.Expire(ctx, key, 3600e9).Err()
				}
				if err != nil && !errors.Is(err, redis.Nil) {
					errc <- fmt.Errorf("client %d op %d: %w", w, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	c := n.client(t, nil)
	ctx := context.Background()
	for k := range keys {
		key := fmt.Sprintf("users:k%d", k)
		if err := c.Set(ctx, key, "final", 0).Err(); err != nil {
			t.Fatal(err)
		}
		if v, err := c.Get(ctx, key).Result(); v != "final" || err != nil {
			t.Fatalf("GET %s = %q, %v; want final", key, v, err)
		}
	}
}

// TestShutdown stops a server with connections open: Serve returns,
// an idle connection is closed, and no new one is accepted.
func TestShutdown(t *testing.T) {
	n := startNodeOnly(t)
	srv, err := n.RESPServer("")
	if err != nil {
		t.Fatal(err)
	}
	addr, stop := serve(t, srv)
	tn := &testNode{Node: n, addr: addr}
	idle := tn.raw(t)
	if got := idle.do("SET", "users:a", "v"); got != "+OK" {
		t.Fatalf("SET = %q", got)
	}
	if err := stop(); err != nil {
		t.Fatalf("Serve = %v", err)
	}
	if line, err := idle.line(); err == nil {
		t.Fatalf("idle connection still open after shutdown, read %q", line)
	}
	if c, err := net.Dial("tcp", tn.addr); err == nil {
		_ = c.Close()
		t.Fatal("a connection was accepted after shutdown")
	}
}

// TestDefaultGroupChoice checks --resp-default-group: a group the node
// does not have is refused at start; another takes the plain keys.
func TestDefaultGroupChoice(t *testing.T) {
	n := startNodeOnly(t)
	if _, err := n.RESPServer("nosuch"); err == nil || !strings.Contains(err.Error(), `"nosuch" is not a group of this node (groups: default, limited, users)`) {
		t.Fatalf("RESPServer(nosuch) = %v", err)
	}
	srv, err := n.RESPServer("users")
	if err != nil {
		t.Fatal(err)
	}
	addr, stop := serve(t, srv)
	defer func() {
		if err := stop(); err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	r := (&testNode{Node: n, addr: addr}).raw(t)
	if got := r.do("SET", "plain", "v"); got != "+OK" {
		t.Fatalf("SET = %q", got)
	}
	users, _ := n.Group("users")
	if v, err := users.Get(context.Background(), "plain"); err != nil || string(v.Bytes) != "v" {
		t.Fatalf("group users key plain = %q, %v", v.Bytes, err)
	}
}
