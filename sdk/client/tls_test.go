package client_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/distcache/distcache/sdk/client"
	"github.com/distcache/distcache/server/node"
)

// selfSigned writes a certificate for 127.0.0.1 and its key into dir and
// returns their paths and a pool that trusts the certificate.
func selfSigned(t *testing.T, dir string) (cert, key string, pool *x509.CertPool) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "distcache test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	for path, block := range map[string]*pem.Block{cert: {Type: "CERTIFICATE", Bytes: der}, key: {Type: "EC PRIVATE KEY", Bytes: kder}} {
		if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	pool = x509.NewCertPool()
	pool.AppendCertsFromPEM(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	return cert, key, pool
}

func TestTLS(t *testing.T) {
	cert, key, pool := selfSigned(t, t.TempDir())
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
