package clienttest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/distcache/distcache/sdk/client"
	"github.com/distcache/distcache/server/node"
)

// ownerKeys is how many keys the owner-routing tests spread over a
// cluster: enough that every node of three owns some.
const ownerKeys = 60

// TestOwnerRouting gives the client one node of three: it must learn the
// other two and send every key straight to its owner, so each Get is
// answered from the owner's store and no node ever asks another.
func TestOwnerRouting(t *testing.T) {
	nodes := startCluster(t, 3, node.Config{})
	for _, p := range protocols {
		t.Run(p.String(), func(t *testing.T) {
			c := newClient(t, []string{nodes[0].url}, client.WithProtocol(p), client.WithOwnerRouting(0))
			ctx := t.Context()
			for i := range ownerKeys {
				key := fmt.Sprintf("%s-%d", p, i)
				if err := c.SetString(ctx, "default", key, "v-"+key); err != nil {
					t.Fatalf("Set(%s): %v", key, err)
				}
				v, err := c.Get(ctx, "default", key)
				if err != nil || string(v.Bytes) != "v-"+key || v.Source != "local" {
					t.Fatalf("Get(%s) = %+v, %v; want v-%s from local (the owner's store)", key, v, err, key)
				}
				if err := c.Delete(ctx, "default", key+"-gone"); err != nil {
					t.Fatalf("Delete: %v", err)
				}
			}
		})
	}
	for i, n := range nodes {
		s := n.All()[0].Stats()
		if s.PeerFetches != 0 || s.HotHits != 0 {
			t.Errorf("node %d: %d peer fetches and %d hot hits, want none: every Get should reach the owner", i, s.PeerFetches, s.HotHits)
		}
		if s.Gets == 0 {
			t.Errorf("node %d answered no Get: the client did not route to it", i)
		}
	}
}

// TestOwnerRoutingFallsBack stops a node the client learned about: calls
// for its keys fall back to the configured endpoint, which loads them
// itself, and the dead owner is tried only once.
func TestOwnerRoutingFallsBack(t *testing.T) {
	nodes := startCluster(t, 3, node.Config{})
	c := newClient(t, []string{nodes[0].url}, client.WithOwnerRouting(time.Hour))
	var retries atomic.Int64
	setSleep(c, func(context.Context, time.Duration) error { retries.Add(1); return nil })
	ctx := t.Context()
	keys := make([]string, ownerKeys)
	for i := range keys {
		keys[i] = fmt.Sprintf("fb-%d", i)
		if err := c.SetString(ctx, "default", keys[i], "v-"+keys[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := nodes[2].Stop(); err != nil {
		t.Fatal(err)
	}
	var local int
	for _, key := range keys {
		v, err := c.Get(ctx, "default", key)
		if err != nil || string(v.Bytes) != "v-"+key {
			t.Fatalf("Get(%s) with node 2 stopped = %+v, %v; want v-%s", key, v, err, key)
		}
		if v.Source == "local" {
			local++
		}
	}
	if got := retries.Load(); got != 1 {
		t.Errorf("%d retries, want 1: the stopped owner should be passed over after its first failure", got)
	}
	if local == 0 || local == len(keys) {
		t.Errorf("%d of %d keys from an owner's store; want the live owners' keys only", local, len(keys))
	}
}

// TestOwnerRoutingWithoutMembership checks the cases where the client
// cannot route by owner: calls still go round robin and succeed.
func TestOwnerRoutingWithoutMembership(t *testing.T) {
	alone := startNode(t, node.Config{}) // advertises no address
	tests := []struct {
		name      string
		endpoints []string
		before    func(*client.Client)
	}{
		{"node alone", []string{alone.url}, nil},
		{"first endpoint dead", []string{deadEndpoint(t), alone.url}, nil},
		{"closed before use", []string{alone.url}, (*client.Client).Close},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, tt.endpoints, client.WithOwnerRouting(10*time.Millisecond))
			setSleep(c, func(context.Context, time.Duration) error { return nil })
			if tt.before != nil {
				tt.before(c)
			}
			for range 3 {
				if s, err := c.GetString(t.Context(), "default", "hello"); err != nil || s != "world" {
					t.Fatalf("Get(hello) = %q, %v; want world", s, err)
				}
			}
		})
	}
}

// TestOwnerRoutingHammer beats on an owner-routing client from several
// goroutines while it refreshes the membership every millisecond, and
// closes it half-way: under -race this finds unguarded state, and every
// Get must still come from the owner's store.
func TestOwnerRoutingHammer(t *testing.T) {
	nodes := startCluster(t, 3, node.Config{})
	c := newClient(t, []string{nodes[1].url}, client.WithOwnerRouting(time.Millisecond))
	const workers, rounds = 8, 40
	var wg sync.WaitGroup
	var done atomic.Int64
	for w := range workers {
		wg.Go(func() {
			ctx := t.Context()
			for r := range rounds {
				key := fmt.Sprintf("h%d-%d", w, r)
				if err := c.SetString(ctx, "default", key, key); err != nil {
					t.Errorf("Set(%s): %v", key, err)
					return
				}
				if v, err := c.Get(ctx, "default", key); err != nil || string(v.Bytes) != key || v.Source != "local" {
					t.Errorf("Get(%s) = %+v, %v; want %s from local", key, v, err, key)
					return
				}
				if done.Add(1) == workers*rounds/2 {
					wg.Go(c.Close)
				}
			}
		})
	}
	wg.Wait()
}
