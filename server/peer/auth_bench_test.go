package peer

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/distcache/distcache/gen/distcache/v1/distcachev1connect"
	"github.com/distcache/distcache/sdk/client/ring"
	"github.com/distcache/distcache/server/cache"
)

// BenchmarkPeerFetchAuth measures a peer Fetch over h2c on loopback
// answered from the owner's store, with the cluster secret checked and
// without any check, in the same process: the secret is one header and
// one constant-time compare.
func BenchmarkPeerFetchAuth(b *testing.B) {
	g, err := cache.NewGroup(cache.Config{Name: "g", Capacity: 1 << 20})
	if err != nil {
		b.Fatal(err)
	}
	defer g.Close()
	if err := g.Set(context.Background(), "k", make([]byte, 100), 0); err != nil {
		b.Fatal(err)
	}
	svc := NewService(ServiceConfig{
		Group:      func(string) (*cache.Group, error) { return g, nil },
		CheckValue: func([]byte) error { return nil },
		FromCache:  func(err error) error { return err },
		Now:        time.Now,
	})
	for _, tc := range []struct {
		name   string
		opts   []connect.HandlerOption
		secret string
	}{
		{"no-auth", nil, ""},
		{"secret", []connect.HandlerOption{connect.WithInterceptors(Interceptor("s3cret"))}, "s3cret"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			path, h := distcachev1connect.NewPeerServiceHandler(svc, tc.opts...)
			mux := http.NewServeMux()
			mux.Handle(path, h)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			var protocols http.Protocols
			protocols.SetUnencryptedHTTP2(true)
			srv := &http.Server{Handler: mux, Protocols: &protocols}
			go func() { _ = srv.Serve(ln) }()
			defer srv.Close()
			c, err := NewClient(Config{Secret: tc.secret, Timeout: 10 * time.Second})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			p := NewRemote(ring.Member{ID: "owner", Addr: ln.Addr().String()}, c)
			ctx := context.Background()
			b.ReportAllocs()
			b.SetParallelism(8)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, _, err := p.Fetch(ctx, "g", "k", ""); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
