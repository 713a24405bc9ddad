package peer

import (
	"context"
	"crypto/subtle"
	"errors"

	"connectrpc.com/connect"
)

// SecretHeader carries the cluster secret on every peer call.
const SecretHeader = "Distcache-Cluster-Secret"

// secretAuth is the interceptor of both ends of the peer protocol: the
// client puts the cluster secret in [SecretHeader]; the handler lets a call
// through only with the same secret, and never one from a browser (with an
// Origin header), whatever it carries. With no secret configured the
// handler refuses every call: a node alone has no peers.
type secretAuth struct {
	secret []byte
}

// GRPCOnlyAgent, in a request's User-Agent, promises the node that the
// connection carries only gRPC calls, so that the node may serve it on
// its gRPC fast path (decision 0013). Peer clients and sdk/client's gRPC
// clients on their own connections send it.
const GRPCOnlyAgent = "distcache-grpc-only"

// userAgent is the peer client's User-Agent.
var userAgent = GRPCOnlyAgent + " grpc-go-connect/" + connect.Version

func (a secretAuth) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if req.Spec().IsClient {
			req.Header().Set(SecretHeader, string(a.secret))
			req.Header().Set("User-Agent", userAgent)
			return next(ctx, req)
		}
		if err := a.check(req.Header().Get(SecretHeader), req.Header().Get("Origin")); err != nil {
			return nil, err
		}
		return next(ctx, req)
	}
}

func (a secretAuth) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		conn.RequestHeader().Set(SecretHeader, string(a.secret))
		conn.RequestHeader().Set("User-Agent", userAgent)
		return conn
	}
}

func (a secretAuth) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		if err := a.check(conn.RequestHeader().Get(SecretHeader), conn.RequestHeader().Get("Origin")); err != nil {
			return err
		}
		return next(ctx, conn)
	}
}

func (a secretAuth) check(got, origin string) error {
	switch {
	case origin != "":
		return connect.NewError(connect.CodePermissionDenied,
			errors.New("the peer service is for cluster members, not browsers"))
	case len(a.secret) == 0:
		return connect.NewError(connect.CodeUnauthenticated,
			errors.New("this node has no cluster secret (--cluster-secret): it accepts no peer calls"))
	case got == "":
		return connect.NewError(connect.CodeUnauthenticated,
			errors.New("peer calls need the cluster secret in the "+SecretHeader+" header"))
	case subtle.ConstantTimeCompare([]byte(got), a.secret) != 1:
		return connect.NewError(connect.CodePermissionDenied, errors.New("wrong cluster secret"))
	}
	return nil
}

// Interceptor returns the handler-side interceptor that admits peer calls
// carrying secret; mount the PeerService handler with it.
func Interceptor(secret string) connect.Interceptor { return secretAuth{secret: []byte(secret)} }
