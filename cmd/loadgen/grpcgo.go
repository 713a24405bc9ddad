package main

import (
	"context"
	"fmt"
	"net/url"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	distcachev1 "github.com/distcache/distcache/gen/distcache/v1"
	"github.com/distcache/distcache/gen/distcache/v1/distcachev1connect"
)

// grpcGoTarget calls one node's CacheService with the official grpc-go
// client over one HTTP/2 connection (h2c), as a third-party Go service
// would. It needs no generated grpc-go stubs: Invoke takes the method
// name and the protobuf messages.
type grpcGoTarget struct {
	conn  *grpc.ClientConn
	group string
}

var _ target = (*grpcGoTarget)(nil)

// newGRPCGoTarget dials the node at baseURL, an http:// URL.
func newGRPCGoTarget(baseURL, group string) (*grpcGoTarget, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("protocol grpc-go: %s: only http:// (h2c) URLs are supported", baseURL)
	}
	conn, err := grpc.NewClient("passthrough:///"+u.Host, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	return &grpcGoTarget{conn: conn, group: group}, nil
}

func (g *grpcGoTarget) Get(ctx context.Context, key string) error {
	return g.conn.Invoke(ctx, distcachev1connect.CacheServiceGetProcedure,
		&distcachev1.GetRequest{Group: g.group, Key: key}, new(distcachev1.GetResponse))
}

func (g *grpcGoTarget) Set(ctx context.Context, key string, value []byte) error {
	return g.conn.Invoke(ctx, distcachev1connect.CacheServiceSetProcedure,
		&distcachev1.SetRequest{Group: g.group, Key: key, Value: value}, new(distcachev1.SetResponse))
}

func (g *grpcGoTarget) Close() { g.conn.Close() }
