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

// Batcher implements target with the same calls as distcacheTarget's,
// made by grpc-go.
func (g *grpcGoTarget) Batcher(ctx context.Context, op string, value []byte) (batcher, error) {
	switch op {
	case "getmany":
		return batcherFunc(func(ctx context.Context, keys []string) error {
			res := new(distcachev1.GetManyResponse)
			err := g.conn.Invoke(ctx, distcachev1connect.CacheServiceGetManyProcedure,
				&distcachev1.GetManyRequest{Group: g.group, Keys: keys}, res)
			if err != nil {
				return err
			}
			return firstKeyError(keys, res.GetResults())
		}), nil
	case "setmany":
		return batcherFunc(func(ctx context.Context, keys []string) error {
			res := new(distcachev1.SetManyResponse)
			err := g.conn.Invoke(ctx, distcachev1connect.CacheServiceSetManyProcedure, setManyRequest(g.group, keys, value), res)
			if err != nil {
				return err
			}
			return firstKeyError(keys, res.GetResults())
		}), nil
	case "pipeline":
		sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		s, err := g.conn.NewStream(sctx, &grpc.StreamDesc{ClientStreams: true, ServerStreams: true},
			distcachev1connect.CacheServicePipelineProcedure)
		if err != nil {
			cancel()
			return nil, err
		}
		return &pipeBatcher{stream: grpcPipe{s}, cancel: cancel, group: g.group}, nil
	}
	return nil, fmt.Errorf("op %q is not a batched op", op)
}

// grpcPipe is grpc-go's Pipeline stream.
type grpcPipe struct{ s grpc.ClientStream }

func (p grpcPipe) Send(req *distcachev1.PipelineRequest) error { return p.s.SendMsg(req) }

func (p grpcPipe) Receive() (*distcachev1.PipelineResponse, error) {
	res := new(distcachev1.PipelineResponse)
	return res, p.s.RecvMsg(res)
}

func (p grpcPipe) Close() { _ = p.s.CloseSend() }
