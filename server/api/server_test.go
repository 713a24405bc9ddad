package api

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect"

	distcachev1 "github.com/distcache/distcache/gen/distcache/v1"
	"github.com/distcache/distcache/gen/distcache/v1/distcachev1connect"
	"github.com/distcache/distcache/server/cache"
)

// oneGroup serves a single group.
type oneGroup struct{ g *cache.Group }

func (o oneGroup) Group(name string) (*cache.Group, bool) { return o.g, name == o.g.Name() }
func (o oneGroup) All() []*cache.Group                    { return []*cache.Group{o.g} }

// TestShutdownFinishesInFlightRequests starts a Get whose load blocks,
// begins shutdown, then lets the load finish: the Get must succeed and
// Serve must return cleanly; new connections must be refused.
func TestShutdownFinishesInFlightRequests(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	g, err := cache.NewGroup(cache.Config{Name: "slow", Capacity: 1 << 20,
		Loader: cache.LoaderFunc(func(ctx context.Context, key string) (cache.Loaded, error) {
			close(started)
			<-release
			return cache.Loaded{Value: []byte("late but whole")}, nil
		})})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	health := NewHealth()
	h, err := NewHandler(Config{Groups: oneGroup{g}, Health: health})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- Serve(ctx, ln, h, ServeOptions{Grace: 30 * time.Second, OnShutdown: health.Shutdown})
	}()

	client := distcachev1connect.NewCacheServiceClient(http.DefaultClient, "http://"+ln.Addr().String())
	got := make(chan error, 1)
	go func() {
		res, err := client.Get(context.Background(), connect.NewRequest(&distcachev1.GetRequest{Group: "slow", Key: "k"}))
		if err == nil && string(res.Msg.Value) != "late but whole" {
			t.Errorf("value = %q", res.Msg.Value)
		}
		got <- err
	}()
	<-started
	cancel() // shutdown begins with the Get in flight
	for {
		if s, _, _ := health.status(""); s.String() == "NOT_SERVING" {
			break
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	if err := <-got; err != nil {
		t.Fatalf("in-flight Get failed during shutdown: %v", err)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve = %v, want nil after a clean shutdown", err)
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Fatal("the listener still accepts after shutdown")
	}
}
