package api

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/status"

	distcachev1 "github.com/distcache/distcache/gen/distcache/v1"
	"github.com/distcache/distcache/gen/distcache/v1/distcachev1connect"
)

// TestValueLimitMeansTheValue: a Set of exactly the node's value limit
// succeeds in every protocol and codec, compressed or not, and one byte
// over is invalid_argument naming the value, whatever the encoding's
// growth (base64 in JSON and in gRPC-Web's text mode).
func TestValueLimitMeansTheValue(t *testing.T) {
	const limit = 64 << 10
	addr, g := serveGroup(t, Config{MaxValueBytes: limit}, ServeOptions{MaxMessageBytes: int(ReadLimit(limit))})
	if g.Stats().Capacity < 4*limit {
		t.Fatalf("group too small for the test: %d", g.Stats().Capacity)
	}
	ctx := context.Background()
	h2c := &http.Client{Transport: &http.Transport{Protocols: h2cOnly()}}
	clients := map[string]distcachev1connect.CacheServiceClient{
		"connect json":      distcachev1connect.NewCacheServiceClient(http.DefaultClient, "http://"+addr, connect.WithProtoJSON()),
		"connect json gzip": distcachev1connect.NewCacheServiceClient(http.DefaultClient, "http://"+addr, connect.WithProtoJSON(), connect.WithSendGzip()),
		"connect proto":     distcachev1connect.NewCacheServiceClient(http.DefaultClient, "http://"+addr),
		"grpc":              distcachev1connect.NewCacheServiceClient(h2c, "http://"+addr, connect.WithGRPC()),
		"grpc json":         distcachev1connect.NewCacheServiceClient(h2c, "http://"+addr, connect.WithGRPC(), connect.WithProtoJSON()),
		"grpc-web json":     distcachev1connect.NewCacheServiceClient(http.DefaultClient, "http://"+addr, connect.WithGRPCWeb(), connect.WithProtoJSON()),
		"grpc-web gzip":     distcachev1connect.NewCacheServiceClient(http.DefaultClient, "http://"+addr, connect.WithGRPCWeb(), connect.WithSendGzip()),
		// Text mode: the body is base64 on the wire, a third larger.
		"grpc-web-text": distcachev1connect.NewCacheServiceClient(&http.Client{Transport: textMode{}}, "http://"+addr, connect.WithGRPCWeb()),
		"grpc-web-text chunked h2c": distcachev1connect.NewCacheServiceClient(&http.Client{Transport: textMode{base: h2c.Transport, chunk: 1000}},
			"http://"+addr, connect.WithGRPCWeb()),
	}
	for name, c := range clients {
		t.Run(name, func(t *testing.T) {
			at := bytes.Repeat([]byte{0xfe}, limit)
			if _, err := c.Set(ctx, connect.NewRequest(&distcachev1.SetRequest{Group: "g", Key: "at", Value: at})); err != nil {
				t.Fatalf("Set of exactly %d bytes: %v", limit, err)
			}
			over := bytes.Repeat([]byte{0xfe}, limit+1)
			_, err := c.Set(ctx, connect.NewRequest(&distcachev1.SetRequest{Group: "g", Key: "over", Value: over}))
			if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "value") {
				t.Fatalf("Set of %d bytes: %v, want invalid_argument naming the value", limit+1, err)
			}
		})
	}
	t.Run("grpc-go", func(t *testing.T) {
		conn := grpcGoConn(t, addr)
		for _, opts := range [][]grpc.CallOption{nil, {grpc.UseCompressor(gzip.Name)}} {
			err := conn.Invoke(ctx, distcachev1connect.CacheServiceSetProcedure,
				&distcachev1.SetRequest{Group: "g", Key: "at", Value: make([]byte, limit)}, new(distcachev1.SetResponse), opts...)
			if err != nil {
				t.Fatalf("Set of exactly %d bytes: %v", limit, err)
			}
			err = conn.Invoke(ctx, distcachev1connect.CacheServiceSetProcedure,
				&distcachev1.SetRequest{Group: "g", Key: "over", Value: make([]byte, limit+1)}, new(distcachev1.SetResponse), opts...)
			if st := status.Convert(err); st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), "value") {
				t.Fatalf("Set of %d bytes: %v, want InvalidArgument naming the value", limit+1, err)
			}
		}
	})
}
