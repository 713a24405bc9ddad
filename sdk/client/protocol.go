package client

import (
	"context"
	"fmt"

	"connectrpc.com/connect"
)

// Protocol is the wire protocol a [Client] speaks. Every node serves all
// three on one port.
type Protocol int

const (
	// ProtocolGRPC is gRPC over HTTP/2: h2c for http:// endpoints and
	// HTTP/2 over TLS for https://. It is the default.
	ProtocolGRPC Protocol = iota
	// ProtocolConnect is the Connect protocol with binary protobuf.
	ProtocolConnect
	// ProtocolGRPCWeb is gRPC-Web with binary protobuf.
	ProtocolGRPCWeb
)

// String returns the protocol's name: "grpc", "connect" or "grpcweb".
func (p Protocol) String() string {
	switch p {
	case ProtocolGRPC:
		return "grpc"
	case ProtocolConnect:
		return "connect"
	case ProtocolGRPCWeb:
		return "grpcweb"
	}
	return fmt.Sprintf("Protocol(%d)", int(p))
}

// clientOptions returns the connect options that select p.
func (p Protocol) clientOptions() ([]connect.ClientOption, error) {
	switch p {
	case ProtocolGRPC:
		return []connect.ClientOption{connect.WithGRPC()}, nil
	case ProtocolConnect:
		return nil, nil
	case ProtocolGRPCWeb:
		return []connect.ClientOption{connect.WithGRPCWeb()}, nil
	}
	return nil, fmt.Errorf("unknown protocol %v", p)
}

// grpcOnlyUserAgent tells a node that the connection carries only gRPC
// calls, so that it may serve it on its gRPC fast path (grpc-go's
// transport rather than net/http's). The node looks for
// "distcache-grpc-only" (server/peer.GRPCOnlyAgent; this module does not
// import the server's).
var grpcOnlyUserAgent = "distcache-grpc-only grpc-go-connect/" + connect.Version

// grpcOnlyAgent sets grpcOnlyUserAgent on every call.
type grpcOnlyAgent struct{}

func (grpcOnlyAgent) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		req.Header().Set("User-Agent", grpcOnlyUserAgent)
		return next(ctx, req)
	}
}

func (grpcOnlyAgent) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		conn.RequestHeader().Set("User-Agent", grpcOnlyUserAgent)
		return conn
	}
}

func (grpcOnlyAgent) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}
