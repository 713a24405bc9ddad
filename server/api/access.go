package api

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"connectrpc.com/connect"

	"github.com/distcache/distcache/gen/distcache/v1/distcachev1connect"
)

// Scope is what a data-plane token allows.
type Scope string

// The scopes: read (Get, stats, plugins, membership), write (Set, Delete)
// and admin (Purge, SetGroupPolicy). Each allows only itself: give a
// token several.
const (
	ScopeRead  Scope = "read"
	ScopeWrite Scope = "write"
	ScopeAdmin Scope = "admin"
)

// procedureScopes is the scope each public procedure needs. Health and
// reflection need none: load balancers and tools reach them without a
// token, and they reveal no data.
var procedureScopes = map[string]Scope{
	distcachev1connect.CacheServiceGetProcedure:            ScopeRead,
	distcachev1connect.CacheServiceSetProcedure:            ScopeWrite,
	distcachev1connect.CacheServiceDeleteProcedure:         ScopeWrite,
	distcachev1connect.CacheServiceGetManyProcedure:        ScopeRead,
	distcachev1connect.CacheServiceSetManyProcedure:        ScopeWrite,
	distcachev1connect.CacheServiceDeleteManyProcedure:     ScopeWrite,
	distcachev1connect.AdminServiceGetStatsProcedure:       ScopeRead,
	distcachev1connect.AdminServiceListPluginsProcedure:    ScopeRead,
	distcachev1connect.AdminServicePurgeProcedure:          ScopeAdmin,
	distcachev1connect.AdminServiceSetGroupPolicyProcedure: ScopeAdmin,
	distcachev1connect.ClusterServiceListMembersProcedure:  ScopeRead,
	distcachev1connect.ClusterServiceOwnerProcedure:        ScopeRead,
}

// Tokens are the data-plane tokens a node accepts, each with its scopes.
// The zero value holds none, which leaves the data plane open (the
// default). It is safe for concurrent use once made.
type Tokens struct {
	byHash map[[sha256.Size]byte][]Scope
}

// ParseTokens reads a tokens file: one token a line as "SCOPES TOKEN",
// SCOPES a comma-separated list of read, write and admin; blank lines and
// lines starting with # are skipped. An error names the line.
func ParseTokens(r io.Reader) (Tokens, error) {
	t := Tokens{byHash: map[[sha256.Size]byte][]Scope{}}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 2 {
			return Tokens{}, fmt.Errorf("line %d: want \"SCOPES TOKEN\", got %d fields", n, len(fields))
		}
		var scopes []Scope
		for s := range strings.SplitSeq(fields[0], ",") {
			switch sc := Scope(s); sc {
			case ScopeRead, ScopeWrite, ScopeAdmin:
				scopes = append(scopes, sc)
			default:
				return Tokens{}, fmt.Errorf("line %d: unknown scope %q (known: read, write, admin)", n, s)
			}
		}
		if len(fields[1]) < 16 {
			return Tokens{}, fmt.Errorf("line %d: token of %d characters is too short (at least 16)", n, len(fields[1]))
		}
		h := sha256.Sum256([]byte(fields[1]))
		if _, dup := t.byHash[h]; dup {
			return Tokens{}, fmt.Errorf("line %d: token listed twice", n)
		}
		t.byHash[h] = scopes
	}
	if err := sc.Err(); err != nil {
		return Tokens{}, err
	}
	if len(t.byHash) == 0 {
		return Tokens{}, errors.New("no tokens in the file")
	}
	return t, nil
}

// LoadTokens reads the tokens file at path (see [ParseTokens]).
func LoadTokens(path string) (Tokens, error) {
	f, err := os.Open(path)
	if err != nil {
		return Tokens{}, err
	}
	defer f.Close()
	t, err := ParseTokens(f)
	if err != nil {
		return Tokens{}, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// Enabled reports whether the node checks tokens at all.
func (t Tokens) Enabled() bool { return len(t.byHash) > 0 }

// Lookup returns the scopes of token, and whether the node knows it: how
// a protocol without an Authorization header (the Redis protocol's AUTH)
// checks a token before it carries it as "Bearer <token>".
func (t Tokens) Lookup(token string) ([]Scope, bool) {
	if token == "" {
		return nil, false
	}
	return t.scopesOf("Bearer " + token)
}

// scopesOf returns the scopes of the token in an "Authorization: Bearer"
// header, and whether it is known. Tokens are compared as SHA-256 hashes,
// so the map lookup leaks nothing useful about the token's bytes.
func (t Tokens) scopesOf(header string) ([]Scope, bool) {
	got, ok := strings.CutPrefix(header, "Bearer ")
	if !ok {
		return nil, false
	}
	h := sha256.Sum256([]byte(got))
	for known, scopes := range t.byHash {
		if subtle.ConstantTimeCompare(known[:], h[:]) == 1 {
			return scopes, true
		}
	}
	return nil, false
}

// access is the interceptor that checks data-plane tokens on every public
// procedure, when the node has any.
type access struct{ tokens Tokens }

func (a access) check(procedure, header string) error {
	need, guarded := procedureScopes[procedure]
	if !a.tokens.Enabled() || !guarded {
		return nil
	}
	scopes, ok := a.tokens.scopesOf(header)
	if !ok {
		return connect.NewError(connect.CodeUnauthenticated,
			fmt.Errorf(`%s needs "Authorization: Bearer <token>" with scope %s`, procedure, need))
	}
	if !slices.Contains(scopes, need) {
		return connect.NewError(connect.CodePermissionDenied,
			fmt.Errorf("%s needs scope %s; this token has %v", procedure, need, scopes))
	}
	return nil
}

func (a access) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if err := a.check(req.Spec().Procedure, req.Header().Get("Authorization")); err != nil {
			return nil, err
		}
		return next(ctx, req)
	}
}

func (a access) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (a access) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		header := conn.RequestHeader().Get("Authorization")
		if conn.Spec().Procedure == distcachev1connect.CacheServicePipelineProcedure && a.tokens.Enabled() {
			// A pipeline carries reads and writes: it needs a known
			// token, and each call the scope of its unary twin.
			scopes, ok := a.tokens.scopesOf(header)
			if !ok {
				return connect.NewError(connect.CodeUnauthenticated,
					errors.New(`a pipeline needs "Authorization: Bearer <token>"`))
			}
			ctx = context.WithValue(ctx, scopesKey{}, scopes)
		}
		if err := a.check(conn.Spec().Procedure, header); err != nil {
			return err
		}
		return next(ctx, conn)
	}
}

// scopesKey is the context key of a pipeline's token scopes, set by
// [access] when the node checks tokens.
type scopesKey struct{}
