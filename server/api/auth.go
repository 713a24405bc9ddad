package api

import (
	"context"
	"crypto/subtle"
	"errors"
	"slices"
	"strings"

	"connectrpc.com/connect"

	"github.com/distcache/distcache/gen/distcache/v1/distcachev1connect"
)

// adminProcedures are the calls that change a node's state outside the
// keyspace and so need the admin token.
var adminProcedures = map[string]bool{
	distcachev1connect.AdminServicePurgeProcedure:          true,
	distcachev1connect.AdminServiceSetGroupPolicyProcedure: true,
}

// adminAuth is an interceptor that lets an admin procedure through only
// with "Authorization: Bearer <token>". With no token configured it
// refuses every admin procedure.
type adminAuth struct {
	token  string
	tokens Tokens // admin-scoped data-plane tokens pass too
}

// WrapUnary checks the token of unary admin calls.
func (a adminAuth) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if adminProcedures[req.Spec().Procedure] {
			if err := a.check(req.Header().Get("Authorization")); err != nil {
				return nil, err
			}
		}
		return next(ctx, req)
	}
}

// WrapStreamingClient is a no-op: the interceptor guards handlers only.
func (a adminAuth) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

// WrapStreamingHandler checks the token of streaming admin calls.
func (a adminAuth) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		if adminProcedures[conn.Spec().Procedure] {
			if err := a.check(conn.RequestHeader().Get("Authorization")); err != nil {
				return err
			}
		}
		return next(ctx, conn)
	}
}

func (a adminAuth) check(header string) error {
	if scopes, ok := a.tokens.scopesOf(header); ok && slices.Contains(scopes, ScopeAdmin) {
		return nil
	}
	if a.token == "" {
		return connect.NewError(connect.CodePermissionDenied,
			errors.New("admin calls are disabled: start the node with --admin-token"))
	}
	got, ok := strings.CutPrefix(header, "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(a.token)) != 1 {
		return connect.NewError(connect.CodeUnauthenticated,
			errors.New(`admin call needs "Authorization: Bearer <admin token>"`))
	}
	return nil
}
