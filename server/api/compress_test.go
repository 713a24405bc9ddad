package api

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// bombSize is what the test's gzip bomb inflates to: far above the
// handlers' read limit (base64 of 1 MiB + 16 KiB by default), small enough to build
// in a moment.
const bombSize = 256 << 20

var bomb = sync.OnceValue(func() []byte {
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zeros := make([]byte, 1<<20)
	for range bombSize / len(zeros) {
		_, _ = w.Write(zeros)
	}
	_ = w.Close()
	return buf.Bytes()
})

// TestLimitedGzipStopsAtLimit reads a bomb through the handlers'
// decompressor: it yields limit+1 bytes, then fails, however much is left.
func TestLimitedGzipStopsAtLimit(t *testing.T) {
	const limit = 1 << 20
	r := &limitedGzip{limit: limit}
	if err := r.Reset(bytes.NewReader(bomb())); err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, r)
	if err == nil || !strings.Contains(err.Error(), "exceeds") {
		t.Fatalf("err = %v, want the limit named", err)
	}
	if n != limit+1 {
		t.Fatalf("read %d bytes, want %d", n, limit+1)
	}
	// Reset starts a new message: a small one reads whole.
	var small bytes.Buffer
	w := gzip.NewWriter(&small)
	_, _ = w.Write([]byte("hello"))
	_ = w.Close()
	if err := r.Reset(&small); err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(r); err != nil || string(got) != "hello" {
		t.Fatalf("after Reset: %q, %v", got, err)
	}
}

// TestGzipBombOnEveryHandler sends a gzip bomb to every kind of handler on
// the port, in the protocols each speaks: each refuses it, the node stays
// up, and the request allocates a bounded amount however large the bomb
// inflates (unbounded, the health handlers buffered all of it).
func TestGzipBombOnEveryHandler(t *testing.T) {
	base := "http://" + serveForTest(t, ServeOptions{})
	h2c := &http.Client{Transport: &http.Transport{Protocols: h2cOnly()}}

	// gRPC and Connect streams frame the compressed message in an envelope.
	enveloped := func() []byte {
		b := bomb()
		env := make([]byte, 5, 5+len(b))
		env[0] = 1 // compressed
		binary.BigEndian.PutUint32(env[1:], uint32(len(b)))
		return append(env, b...)
	}
	cases := []struct {
		name, path string
		header     map[string]string
		body       func() []byte
		client     *http.Client
	}{
		{"health check connect", "/grpc.health.v1.Health/Check",
			map[string]string{"Content-Type": "application/json", "Content-Encoding": "gzip"}, bomb, http.DefaultClient},
		{"health list connect", "/grpc.health.v1.Health/List",
			map[string]string{"Content-Type": "application/proto", "Content-Encoding": "gzip"}, bomb, http.DefaultClient},
		{"health watch connect stream", "/grpc.health.v1.Health/Watch",
			map[string]string{"Content-Type": "application/connect+json", "Connect-Content-Encoding": "gzip"}, enveloped, http.DefaultClient},
		{"health check grpc", "/grpc.health.v1.Health/Check",
			map[string]string{"Content-Type": "application/grpc", "Grpc-Encoding": "gzip", "Te": "trailers"}, enveloped, h2c},
		{"health check grpc-web", "/grpc.health.v1.Health/Check",
			map[string]string{"Content-Type": "application/grpc-web+proto", "Grpc-Encoding": "gzip"}, enveloped, http.DefaultClient},
		{"reflection v1 grpc", "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
			map[string]string{"Content-Type": "application/grpc", "Grpc-Encoding": "gzip", "Te": "trailers"}, enveloped, h2c},
		{"reflection v1alpha grpc", "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
			map[string]string{"Content-Type": "application/grpc", "Grpc-Encoding": "gzip", "Te": "trailers"}, enveloped, h2c},
		{"cache get connect", "/distcache.v1.CacheService/Get",
			map[string]string{"Content-Type": "application/json", "Content-Encoding": "gzip"}, bomb, http.DefaultClient},
		{"admin stats grpc", "/distcache.v1.AdminService/GetStats",
			map[string]string{"Content-Type": "application/grpc", "Grpc-Encoding": "gzip", "Te": "trailers"}, enveloped, h2c},
		{"peer fetch grpc", "/distcache.v1.PeerService/Fetch",
			map[string]string{"Content-Type": "application/grpc", "Grpc-Encoding": "gzip", "Te": "trailers"}, enveloped, h2c},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := c.body()
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			req, err := http.NewRequest(http.MethodPost, base+c.path, bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range c.header {
				req.Header.Set(k, v)
			}
			res, err := c.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			answer, _ := io.ReadAll(res.Body)
			_ = res.Body.Close()
			runtime.ReadMemStats(&after)
			allocated := after.TotalAlloc - before.TotalAlloc
			t.Logf("HTTP %d, grpc-status %q, allocated %d KiB for a %d KiB bomb inflating to %d MiB",
				res.StatusCode, res.Header.Get("Grpc-Status")+res.Trailer.Get("Grpc-Status"), allocated>>10, len(body)>>10, bombSize>>20)
			if res.StatusCode == http.StatusOK && res.Header.Get("Grpc-Status")+res.Trailer.Get("Grpc-Status") == "" &&
				!bytes.Contains(answer, []byte("resource_exhausted")) {
				t.Errorf("bomb accepted: %.200s", answer)
			}
			// Inflated whole, the bomb alone allocates bombSize.
			if allocated > 64<<20 {
				t.Errorf("allocated %d MiB for one request", allocated>>20)
			}
			if bytes.Contains(answer, []byte("268435456")) || strings.Contains(res.Trailer.Get("Grpc-Message"), "268435456") {
				t.Errorf("the node inflated the whole bomb to measure it: %.200s", answer)
			}
		})
	}
	// The node still answers.
	res, err := http.Post(base+"/grpc.health.v1.Health/Check", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("after the bombs: HTTP %d", res.StatusCode)
	}
}

func h2cOnly() *http.Protocols {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return &p
}
