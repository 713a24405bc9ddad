package clienttest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/distcache/distcache/sdk/client"
	"github.com/distcache/distcache/server/node"
)

// TestBatches runs SetMany, GetMany and DeleteMany against a real node in
// every protocol: each key answered on its own, a bad key failing alone.
func TestBatches(t *testing.T) {
	n := startNode(t, node.Config{})
	for _, p := range protocols {
		t.Run(p.String(), func(t *testing.T) {
			c := newClient(t, []string{n.url}, client.WithProtocol(p))
			ctx := t.Context()
			keys := []string{p.String() + "-a", "", p.String() + "-b"}
			errs, err := c.SetMany(ctx, "default", []client.Entry{
				{Key: keys[0], Value: []byte("1")},
				{Key: keys[1], Value: []byte("bad")},
				{Key: keys[2], Value: []byte("2"), TTL: time.Hour, HasTTL: true},
			})
			if err != nil {
				t.Fatal(err)
			}
			if errs[0] != nil || errs[2] != nil || connect.CodeOf(errs[1]) != connect.CodeInvalidArgument {
				t.Fatalf("SetMany errors %v, want nil, invalid_argument, nil", errs)
			}
			rs, err := c.GetMany(ctx, "default", append(keys, p.String()+"-missing"))
			if err != nil {
				t.Fatal(err)
			}
			if string(rs[0].Value.Bytes) != "1" || string(rs[2].Value.Bytes) != "2" || rs[2].Value.TTL == 0 || rs[0].Value.Source != "local" {
				t.Errorf("GetMany values %+v, %+v", rs[0], rs[2])
			}
			if connect.CodeOf(rs[1].Err) != connect.CodeInvalidArgument || !errors.Is(rs[3].Err, client.ErrNotFound) {
				t.Errorf("GetMany errors %v, %v; want invalid_argument and ErrNotFound", rs[1].Err, rs[3].Err)
			}
			derrs, err := c.DeleteMany(ctx, "default", keys[:1])
			if err != nil || derrs[0] != nil {
				t.Fatalf("DeleteMany: %v %v", derrs, err)
			}
			if _, err := c.Get(ctx, "default", keys[0]); !errors.Is(err, client.ErrNotFound) {
				t.Errorf("Get after DeleteMany: %v", err)
			}
			if _, err := c.GetMany(ctx, "nope", keys[:1]); !errors.Is(err, client.ErrNotFound) {
				t.Errorf("GetMany of an unknown group: %v, want ErrNotFound", err)
			}
		})
	}
}

// TestBatchesOwnerRouting splits a batch by owner: every key is read from
// its owner's store, and no node asks another.
func TestBatchesOwnerRouting(t *testing.T) {
	nodes := startCluster(t, 3, node.Config{})
	c := newClient(t, []string{nodes[0].url}, client.WithOwnerRouting(0))
	ctx := t.Context()
	var keys []string
	var entries []client.Entry
	for i := range ownerKeys {
		k := fmt.Sprintf("routed-%d", i)
		keys = append(keys, k)
		entries = append(entries, client.Entry{Key: k, Value: []byte("v-" + k)})
	}
	if _, err := c.SetMany(ctx, "default", entries); err != nil {
		t.Fatal(err)
	}
	rs, err := c.GetMany(ctx, "default", keys)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rs {
		if r.Err != nil || string(r.Value.Bytes) != "v-"+keys[i] || r.Value.Source != "local" {
			t.Errorf("%s: %+v, want v-%s from the owner's store", keys[i], r, keys[i])
		}
	}
	for i, n := range nodes {
		if s := n.All()[0].Stats(); s.PeerFetches != 0 {
			t.Errorf("node %d made %d peer fetches, want none", i, s.PeerFetches)
		}
	}
}

// TestPipelineClient sends many calls on one pipeline, from several
// goroutines at once, and checks each answer.
func TestPipelineClient(t *testing.T) {
	n := startNode(t, node.Config{})
	for _, p := range []client.Protocol{client.ProtocolGRPC, client.ProtocolConnect} {
		t.Run(p.String(), func(t *testing.T) {
			c := newClient(t, []string{n.url}, client.WithProtocol(p))
			ctx := t.Context()
			pl := c.Pipeline(ctx)
			var wg sync.WaitGroup
			for g := range 4 {
				wg.Go(func() {
					var calls []*client.Call
					for i := range 50 {
						k := fmt.Sprintf("%s-%d-%d", p, g, i)
						calls = append(calls, pl.Set("default", k, []byte("v-"+k)))
					}
					for _, call := range calls {
						if _, err := call.Wait(ctx); err != nil {
							t.Errorf("Set: %v", err)
						}
					}
					calls = calls[:0]
					for i := range 50 {
						calls = append(calls, pl.Get("default", fmt.Sprintf("%s-%d-%d", p, g, i)))
					}
					bad := pl.Get("default", "")
					missing := pl.Get("default", "never-"+p.String())
					for i, call := range calls {
						v, err := call.Wait(ctx)
						if want := fmt.Sprintf("v-%s-%d-%d", p, g, i); err != nil || string(v.Bytes) != want {
							t.Errorf("Get: %q, %v; want %s", v.Bytes, err, want)
						}
					}
					if _, err := bad.Wait(ctx); connect.CodeOf(err) != connect.CodeInvalidArgument {
						t.Errorf("Get of an empty key: %v, want invalid_argument", err)
					}
					if _, err := missing.Wait(ctx); !errors.Is(err, client.ErrNotFound) {
						t.Errorf("Get of a missing key: %v, want ErrNotFound", err)
					}
				})
			}
			wg.Wait()
			if err := pl.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := pl.Get("default", "x").Wait(ctx); !errors.Is(err, client.ErrPipelineClosed) {
				t.Errorf("Get after Close: %v, want ErrPipelineClosed", err)
			}
		})
	}
}

// TestPipelineBrokenStreamFailsCalls stops the node under a pipeline:
// every waiting call fails instead of hanging.
func TestPipelineBrokenStreamFailsCalls(t *testing.T) {
	n := startNode(t, node.Config{})
	c := newClient(t, []string{n.url})
	ctx, cancel := context.WithCancel(t.Context())
	pl := c.Pipeline(ctx)
	if _, err := pl.Set("default", "k", []byte("v")).Wait(ctx); err != nil {
		t.Fatal(err)
	}
	call := pl.Get("default", "k")
	cancel()
	if _, err := call.Wait(context.Background()); err != nil && !strings.Contains(err.Error(), "cancel") && !errors.Is(err, client.ErrPipelineClosed) {
		t.Errorf("call on a canceled pipeline: %v", err)
	}
	_ = pl.Close()
}
