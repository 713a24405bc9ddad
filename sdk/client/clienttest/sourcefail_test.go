package clienttest

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/distcache/distcache/sdk/client"
	"github.com/distcache/distcache/server/api"
	"github.com/distcache/distcache/server/cache"
)

// oneGroup serves one group to the API handler.
type oneGroup struct{ g *cache.Group }

func (o oneGroup) Group(name string) (*cache.Group, bool) { return o.g, name == o.g.Name() }
func (o oneGroup) All() []*cache.Group                    { return []*cache.Group{o.g} }

// failingWriter is a write-through source that always fails.
type failingWriter struct{ calls *atomic.Int64 }

func (w failingWriter) Write(context.Context, string, []byte, time.Time) error {
	w.calls.Add(1)
	return errors.New("source is down")
}

func (w failingWriter) Remove(context.Context, string) error {
	w.calls.Add(1)
	return errors.New("source is down")
}

// TestSourceFailureIsNotRetried checks that a failure of the group's own
// source reaches the caller as internal, not unavailable, so the client
// does not multiply the load on a sick source: one Get makes one loader
// call, and one Set or Delete one write-through call, whatever the retry
// policy.
func TestSourceFailureIsNotRetried(t *testing.T) {
	var loads, writes atomic.Int64
	g, err := cache.NewGroup(cache.Config{
		Name: "g", Capacity: 1 << 20,
		Loader: cache.LoaderFunc(func(context.Context, string) (cache.Loaded, error) {
			loads.Add(1)
			return cache.Loaded{}, errors.New("source is down")
		}),
		Writer: failingWriter{&writes},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	h, err := api.NewHandler(api.Config{Groups: oneGroup{g}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- api.Serve(sctx, ln, h, api.ServeOptions{}) }()
	defer func() { stop(); <-served }()
	url := "http://" + ln.Addr().String()
	// Two endpoints (the same node twice), so a retry had somewhere to go.
	c, err := client.New([]string{url, url}, client.WithRetry(client.RetryPolicy{
		MaxAttempts: 5, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond,
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	for i := range 3 {
		_, err := c.Get(ctx, "g", "k")
		if connect.CodeOf(err) != connect.CodeInternal {
			t.Fatalf("Get with the source down: %v, want internal", err)
		}
		if got := loads.Load(); got != int64(i+1) {
			t.Fatalf("after %d Gets the loader ran %d times", i+1, got)
		}
	}
	if err := c.Set(ctx, "g", "k", []byte("v")); connect.CodeOf(err) != connect.CodeInternal {
		t.Fatalf("Set with the source down: %v, want internal", err)
	}
	if err := c.Delete(ctx, "g", "k"); connect.CodeOf(err) != connect.CodeInternal {
		t.Fatalf("Delete with the source down: %v, want internal", err)
	}
	if got := writes.Load(); got != 2 {
		t.Fatalf("a Set and a Delete made %d source writes, want 2", got)
	}
}
