package node

import (
	"context"
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
	"testing"
	"time"

	"connectrpc.com/connect"

	distcachev1 "github.com/distcache/distcache/gen/distcache/v1"
	"github.com/distcache/distcache/gen/distcache/v1/distcachev1connect"
)

// selfSigned writes a certificate for 127.0.0.1 and its key into dir.
func selfSigned(t *testing.T, dir string) (cert, key string) {
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
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	return cert, key
}

// TestPeersOverTLS runs two nodes that serve HTTPS and call each other
// over HTTPS; a client reaches the non-owner, which fetches from the owner.
func TestPeersOverTLS(t *testing.T) {
	cert, key := selfSigned(t, t.TempDir())
	nodes := startCluster(t, 2, Config{Cluster: ClusterConfig{TLSCert: cert, TLSKey: key, TLSCA: cert}})
	owner := ownerOf(t, nodes, "hello")
	pool := x509.NewCertPool()
	pem, _ := os.ReadFile(cert)
	pool.AppendCertsFromPEM(pem)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	url := "https://" + nodes[1-owner].url[len("http://"):]
	c := distcachev1connect.NewCacheServiceClient(client, url, connect.WithGRPC())
	res, err := c.Get(context.Background(), connect.NewRequest(&distcachev1.GetRequest{Group: "default", Key: "hello"}))
	if err != nil || string(res.Msg.Value) != "world" || res.Msg.Source != distcachev1.Source_SOURCE_PEER {
		t.Fatalf("Get over TLS through the non-owner = %v, %v; want world from the peer", res, err)
	}
	// Plain HTTP is refused by a TLS node.
	plain := distcachev1connect.NewCacheServiceClient(http.DefaultClient, nodes[0].url)
	if _, err := plain.Get(context.Background(), connect.NewRequest(&distcachev1.GetRequest{Group: "default", Key: "hello"})); err == nil {
		t.Fatal("a TLS node answered plain HTTP")
	}
}
