package distcache_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/distcache/distcache"
	distcachev1 "github.com/distcache/distcache/gen/distcache/v1"
	"github.com/distcache/distcache/sdk/client"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
	)
}

// users is a Getter over a map that counts its calls.
type users struct {
	calls atomic.Int64
	rows  map[string]string
}

func (u *users) get(_ context.Context, key string) ([]byte, error) {
	u.calls.Add(1)
	v, ok := u.rows[key]
	if !ok {
		return nil, fmt.Errorf("user %s: %w", key, distcache.ErrNotFound)
	}
	return []byte(v), nil
}

func Example() {
	ctx := context.Background()
	db := map[string]string{"42": "Ada"}
	loads := 0
	n, err := distcache.New(ctx, distcache.Options{
		Groups: []distcache.Group{{
			Name:       "users",
			CacheBytes: 16 << 20,
			TTL:        10 * time.Minute,
			Getter: func(ctx context.Context, key string) ([]byte, error) {
				loads++
				if v, ok := db[key]; ok {
					return []byte(v), nil
				}
				return nil, distcache.ErrNotFound
			},
		}},
	})
	if err != nil {
		panic(err)
	}
	defer n.Close()

	for range 3 {
		v, err := n.Get(ctx, "users", "42")
		fmt.Println(string(v), err)
	}
	_, err = n.Get(ctx, "users", "7")
	fmt.Println(errors.Is(err, distcache.ErrNotFound))
	fmt.Println("loads:", loads)
	// Output:
	// Ada <nil>
	// Ada <nil>
	// Ada <nil>
	// true
	// loads: 2
}

func newNode(t *testing.T, opts distcache.Options) *distcache.Node {
	t.Helper()
	n, err := distcache.New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Error(err)
		}
	})
	return n
}

func TestGetSetDelete(t *testing.T) {
	u := &users{rows: map[string]string{"1": "one"}}
	n := newNode(t, distcache.Options{Groups: []distcache.Group{
		{Name: "users", Getter: u.get, NegativeTTL: time.Hour},
		{Name: "sessions"}, // no Getter: holds what is Set
	}})
	ctx := context.Background()

	// Single flight: 50 concurrent Gets of one key load it once.
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if v, err := n.Get(ctx, "users", "1"); err != nil || string(v) != "one" {
				t.Errorf("Get = %q, %v", v, err)
			}
		})
	}
	wg.Wait()
	if c := u.calls.Load(); c != 1 {
		t.Errorf("50 concurrent Gets called the Getter %d times, want 1", c)
	}
	// The bytes are the caller's.
	v, _ := n.Get(ctx, "users", "1")
	v[0] = 'X'
	if v, _ := n.Get(ctx, "users", "1"); string(v) != "one" {
		t.Errorf("after changing a returned value, Get = %q", v)
	}
	// Not found, remembered for NegativeTTL.
	for range 2 {
		if _, err := n.Get(ctx, "users", "nobody"); !errors.Is(err, distcache.ErrNotFound) {
			t.Errorf("Get of a missing user = %v, want ErrNotFound", err)
		}
	}
	if c := u.calls.Load(); c != 2 {
		t.Errorf("Getter called %d times, want 2 (one per key; the not-found remembered)", c)
	}

	value := []byte("token-a")
	if err := n.Set(ctx, "sessions", "s1", value, time.Minute); err != nil {
		t.Fatal(err)
	}
	value[0] = 'X' // Set does not keep it
	if v, err := n.Get(ctx, "sessions", "s1"); err != nil || string(v) != "token-a" {
		t.Errorf("Get after Set = %q, %v", v, err)
	}
	if err := n.Set(ctx, "sessions", "s2", []byte("b"), distcache.Forever); err != nil {
		t.Fatal(err)
	}
	if err := n.Delete(ctx, "sessions", "s1"); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Get(ctx, "sessions", "s1"); !errors.Is(err, distcache.ErrNotFound) {
		t.Errorf("Get after Delete = %v, want ErrNotFound", err)
	}

	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"unknown group", func() error { _, err := n.Get(ctx, "nope", "k"); return err }(), `unknown group "nope"`},
		{"empty key", func() error { _, err := n.Get(ctx, "users", ""); return err }(), "0 bytes"},
		{"long key", n.Set(ctx, "sessions", strings.Repeat("k", 251), nil, 0), "251 bytes"},
		{"bad utf-8", n.Delete(ctx, "sessions", "\xff"), "UTF-8"},
		{"big value", n.Set(ctx, "sessions", "k", make([]byte, 1<<20+1), 0), "over the limit"},
		{"negative ttl", n.Set(ctx, "sessions", "k", nil, -time.Second), "negative ttl"},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", tc.name, tc.err, tc.want)
		}
	}
	if _, err := n.Get(ctx, "sessions", "k"); !errors.Is(err, distcache.ErrNotFound) {
		t.Errorf("a refused Set stored something: %v", err)
	}
}

func TestBadOptions(t *testing.T) {
	get := func(context.Context, string) ([]byte, error) { return nil, nil }
	for _, tc := range []struct {
		name string
		opts distcache.Options
		want string
	}{
		{"no groups", distcache.Options{}, "no groups"},
		{"bad name", distcache.Options{Groups: []distcache.Group{{Name: "Users"}}}, "groups[0].name"},
		{"duplicate", distcache.Options{Groups: []distcache.Group{{Name: "a"}, {Name: "a", Getter: get}}}, "duplicate group name"},
		{"negative bytes", distcache.Options{Groups: []distcache.Group{{Name: "a", CacheBytes: -1}}}, "groups[0].capacity"},
		{"bad policy", distcache.Options{Groups: []distcache.Group{{Name: "a", Policy: "No Such"}}}, "groups[0].policy"},
		{"peers without self", distcache.Options{Groups: []distcache.Group{{Name: "a"}}, Peers: []string{"127.0.0.1:1"}}, "Self is required"},
		{"cluster without secret", distcache.Options{Groups: []distcache.Group{{Name: "a"}}, Self: "127.0.0.1:1", Peers: []string{"127.0.0.1:1"}}, "secret"},
		{"negative peer timeout", distcache.Options{Groups: []distcache.Group{{Name: "a"}}, PeerTimeout: -time.Second}, "PeerTimeout -1s is negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := distcache.New(context.Background(), tc.opts)
			if err == nil {
				n.Close()
				t.Fatalf("New = no error, want one with %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New = %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// TestCluster runs three embedded nodes that know each other by a static
// list and serve on their own listeners: each key is loaded once, by its
// owner's Getter, whichever node is asked; a Set through one node is read
// through the others; and a client of the API reads the same values.
func TestCluster(t *testing.T) {
	const nodes = 3
	var lns []net.Listener
	var peers []string
	for range nodes {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		peers = append(peers, ln.Addr().String())
	}
	var loads [nodes]atomic.Int64
	var ns []*distcache.Node
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	for i, ln := range lns {
		n := newNode(t, distcache.Options{
			Groups: []distcache.Group{{Name: "users", Getter: func(_ context.Context, key string) ([]byte, error) {
				loads[i].Add(1)
				return []byte("user " + key), nil
			}}, {Name: "notes"}},
			Self: ln.Addr().String(), Peers: peers, ClusterSecret: "embedded-secret",
			// Generous for a race build on a loaded machine: this test is
			// about routing, not about timing out; node tests cover that.
			PeerTimeout: 10 * time.Second,
		})
		ns = append(ns, n)
		wg.Go(func() {
			if err := n.Serve(ctx, ln); err != nil {
				t.Errorf("Serve: %v", err)
			}
		})
	}
	// Stop serving before the nodes close (cleanups run last first).
	t.Cleanup(func() { cancel(); wg.Wait() })
	// Until every node serves, the others may find a peer unreachable and
	// load its keys themselves: wait until each sees all three alive.
	for _, p := range peers {
		c, err := client.New([]string{"http://" + p})
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			res, err := c.Members(context.Background())
			alive := 0
			for _, m := range res.GetMembers() {
				if m.GetState() == distcachev1.MemberState_MEMBER_STATE_ALIVE {
					alive++
				}
			}
			if err == nil && alive == nodes {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s sees %d of %d members alive (%v)", p, alive, nodes, err)
			}
			time.Sleep(10 * time.Millisecond) // poll interval
		}
		c.Close()
	}

	const keys = 30
	for k := range keys {
		key := fmt.Sprint(k)
		for _, n := range ns {
			if v, err := n.Get(context.Background(), "users", key); err != nil || string(v) != "user "+key {
				t.Fatalf("Get %s = %q, %v", key, v, err)
			}
		}
	}
	var total int64
	owners := 0
	for i := range loads {
		total += loads[i].Load()
		if loads[i].Load() > 0 {
			owners++
		}
	}
	if total != keys {
		t.Errorf("%d keys read through %d nodes were loaded %d times, want %d (once, by the owner)", keys, nodes, total, keys)
	}
	if owners < 2 {
		t.Errorf("only %d nodes own any of %d keys", owners, keys)
	}

	if err := ns[0].Set(context.Background(), "notes", "n1", []byte("hello"), 0); err != nil {
		t.Fatal(err)
	}
	for i, n := range ns {
		if v, err := n.Get(context.Background(), "notes", "n1"); err != nil || string(v) != "hello" {
			t.Errorf("node %d: Get after a Set through node 0 = %q, %v", i, v, err)
		}
	}

	c, err := client.New([]string{"http://" + peers[2]})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if v, err := c.GetString(context.Background(), "users", "7"); err != nil || v != "user 7" {
		t.Errorf("client Get = %q, %v", v, err)
	}
	if v, err := c.GetString(context.Background(), "notes", "n1"); err != nil || v != "hello" {
		t.Errorf("client Get of the Set note = %q, %v", v, err)
	}
}
