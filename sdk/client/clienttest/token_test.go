package clienttest

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"connectrpc.com/connect"

	"github.com/distcache/distcache/sdk/client"
	"github.com/distcache/distcache/server/node"
)

// TestWithToken calls a node that checks data-plane tokens: without a
// token a Get is unauthenticated, with a read token it is served and a
// Set is permission_denied, and a write token may Set.
func TestWithToken(t *testing.T) {
	file := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(file, []byte("read reader-0123456789abcdef\nwrite,read writer-0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	n := startNode(t, node.Config{TokensFile: file})
	ctx := context.Background()
	dial := func(opts ...client.Option) *client.Client {
		c, err := client.New([]string{n.url}, append(opts, client.WithRetry(client.RetryPolicy{MaxAttempts: 1}))...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	if _, err := dial().GetString(ctx, "default", "hello"); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("Get without a token: %v, want unauthenticated", err)
	}
	reader := dial(client.WithToken("reader-0123456789abcdef"))
	if v, err := reader.GetString(ctx, "default", "hello"); err != nil || v != "world" {
		t.Fatalf("Get with a read token: %q, %v", v, err)
	}
	if err := reader.SetString(ctx, "default", "k", "v"); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Fatalf("Set with a read token: %v, want permission_denied", err)
	}
	if err := dial(client.WithToken("writer-0123456789abcdef")).SetString(ctx, "default", "k", "v"); err != nil {
		t.Fatalf("Set with a write token: %v", err)
	}
}
