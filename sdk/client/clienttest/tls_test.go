package clienttest

import (
	"crypto/tls"
	"net/http"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/distcache/distcache/internal/testcert"
	"github.com/distcache/distcache/sdk/client"
	"github.com/distcache/distcache/server/node"
)

func TestTLS(t *testing.T) {
	cert, key, pool := testcert.SelfSigned(t, t.TempDir())
	n := startNode(t, node.Config{Cluster: node.ClusterConfig{TLSCert: cert, TLSKey: key}})
	url := "https://" + strings.TrimPrefix(n.url, "http://")
	for _, p := range protocols {
		t.Run(p.String(), func(t *testing.T) {
			c := newClient(t, []string{url}, client.WithProtocol(p), client.WithTLSConfig(&tls.Config{RootCAs: pool}))
			if s, err := c.GetString(t.Context(), "default", "hello"); err != nil || s != "world" {
				t.Fatalf("Get over TLS = %q, %v", s, err)
			}
		})
	}
	t.Run("untrusted", func(t *testing.T) {
		c := newClient(t, []string{url}, client.WithRetry(client.RetryPolicy{MaxAttempts: 1}))
		if _, err := c.Get(t.Context(), "default", "hello"); connect.CodeOf(err) != connect.CodeUnavailable {
			t.Fatalf("Get with the system roots = %v, want Unavailable", err)
		}
	})
	if _, err := client.New([]string{url}, client.WithTLSConfig(&tls.Config{}), client.WithHTTPClient(&http.Client{})); err == nil {
		t.Fatal("New accepted WithTLSConfig together with WithHTTPClient")
	}
}
