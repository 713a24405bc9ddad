package plugin

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// rawLoaderWith is rawLoader on a runtime with cfg.
func rawLoaderWith(t *testing.T, cfg Config, httpAllow []string) *GroupLoader {
	t.Helper()
	rt := newTestRuntime(t, cfg)
	mod, err := rt.Compile(context.Background(), "raw", buildWasm(t, "server/plugin/testdata/rawloader"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := mod.NewLoader("g", LoaderConfig{HTTPAllow: httpAllow})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// recorder is a test server that counts its requests and remembers their
// paths.
type recorder struct {
	*httptest.Server
	hits  atomic.Int64
	paths chan string
}

func newRecorder(t *testing.T, h http.HandlerFunc) *recorder {
	rec := &recorder{paths: make(chan string, 64)}
	rec.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.hits.Add(1)
		select {
		case rec.paths <- r.URL.Path:
		default:
		}
		h(w, r)
	}))
	t.Cleanup(rec.Close)
	return rec
}

func (rec *recorder) port() string {
	u, _ := url.Parse(rec.URL)
	return u.Port()
}

// TestHTTPGetRefusals: every trick a raw string prefix let through is
// refused before or during the request, with a reason, and the secret
// server is never reached. The loader keeps serving afterwards.
func TestHTTPGetRefusals(t *testing.T) {
	secret := newRecorder(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "the secret") })
	var pub *recorder
	pub = newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/allowed/to-secret":
			http.Redirect(w, r, secret.URL+"/secret", http.StatusFound)
		case "/allowed/to-admin":
			http.Redirect(w, r, "/internal-admin", http.StatusFound)
		case "/allowed/hop":
			http.Redirect(w, r, "/allowed/x", http.StatusMovedPermanently)
		case "/allowed/loop":
			http.Redirect(w, r, "/allowed/loop", http.StatusFound)
		case "/internal-admin":
			fmt.Fprint(w, "admin secret")
		default:
			fmt.Fprintf(w, "hello from %s", r.URL.Path)
		}
	})
	host := "127.0.0.1"
	sp := secret.port()
	l := rawLoader(t, []string{pub.URL + "/allowed/", "http://" + host + ":" + sp[:len(sp)-1]})
	for _, tc := range []struct {
		name, url, want string
	}{
		{"redirect to another port", pub.URL + "/allowed/to-secret", "redirect to " + secret.URL + "/secret refused: " + secret.URL + " is not an origin in http_allow"},
		{"redirect outside the path", pub.URL + "/allowed/to-admin", `redirect to ` + pub.URL + `/internal-admin refused: path "/internal-admin" (cleaned) is not under`},
		{"redirect loop", pub.URL + "/allowed/loop", "stopped after 5 redirects"},
		{"dot-dot", pub.URL + "/allowed/../internal-admin", `path "/internal-admin" (cleaned) is not under http_allow's ["/allowed"]`},
		{"escaped dot-dot", pub.URL + "/allowed/%2e%2e/internal-admin", `path "/internal-admin" (cleaned)`},
		{"escaped slash", pub.URL + "/allowed/..%2finternal-admin", `path "/internal-admin" (cleaned)`},
		{"userinfo", "http://" + host + ":" + sp[:len(sp)-1] + "@" + host + ":" + sp + "/secret", "userinfo"},
		{"port prefix", secret.URL + "/secret", secret.URL + " is not an origin in http_allow"},
		{"not http", "file:///etc/passwd", `scheme "file" is not http or https`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := l.Load(context.Background(), "http:"+tc.url)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("GET %s = %q, %v; want an error containing %q", tc.url, res.Value, err, tc.want)
			}
			if strings.Contains(err.Error(), "secret\"") || strings.Contains(err.Error(), "admin secret") {
				t.Errorf("the error leaks a body: %v", err)
			}
		})
	}
	if n := secret.hits.Load(); n != 0 {
		t.Errorf("the secret server got %d requests", n)
	}
	for len(pub.paths) > 0 {
		if p := <-pub.paths; p == "/internal-admin" {
			t.Errorf("the public server served %s", p)
		}
	}
	res, err := l.Load(context.Background(), "http:"+pub.URL+"/allowed/hop")
	if err != nil || string(res.Value) != "200 hello from /allowed/x" {
		t.Errorf("an allowed redirect: %q, %v", res.Value, err)
	}
}

// TestHTTPGetIgnoresProxyEnv: HTTP_PROXY is the node's, never the
// plugin's. (Go's environment proxy skips loopback hosts, so the URL names
// a host that does not resolve: with the proxy it would reach the
// recorder, without it the lookup fails.)
func TestHTTPGetIgnoresProxyEnv(t *testing.T) {
	proxy := newRecorder(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "proxied") })
	t.Setenv("HTTP_PROXY", proxy.URL)
	t.Setenv("http_proxy", proxy.URL)
	t.Setenv("NO_PROXY", "")
	l := rawLoaderWith(t, Config{HTTPTimeout: 2 * time.Second}, []string{"http://distcache-proxy-test.invalid/"})
	res, err := l.Load(context.Background(), "http:http://distcache-proxy-test.invalid/x")
	if err == nil {
		t.Errorf("GET through the proxy = %q", res.Value)
	}
	if n := proxy.hits.Load(); n != 0 {
		t.Errorf("the environment's proxy got %d requests", n)
	}
}

// TestHTTPGetTimeout: a server that stalls, before the headers or in the
// body, costs at most the http_get timeout, and the guest gets the error.
func TestHTTPGetTimeout(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/body" {
			w.Header().Set("Content-Length", "100")
			fmt.Fprint(w, "partial")
			w.(http.Flusher).Flush()
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	l := rawLoaderWith(t, Config{HTTPTimeout: 200 * time.Millisecond}, []string{srv.URL})
	for _, p := range []string{"/headers", "/body"} {
		start := time.Now()
		_, err := l.Load(context.Background(), "http:"+srv.URL+p)
		if err == nil || !strings.Contains(err.Error(), "no complete response within 200ms (the http_get timeout)") {
			t.Errorf("%s: %v, want the timeout", p, err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("%s took %v", p, d)
		}
	}
}

// TestHTTPGetBodyCap: a body over the cap is an error, whether or not the
// server says its length; a body at the cap is served whole.
func TestHTTPGetBodyCap(t *testing.T) {
	const limit = 4 << 20 // a quarter of a 16 MiB plugin memory cap
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		n := limit
		if r.URL.Path != "/at-cap" {
			n++
		}
		if r.URL.Path == "/sized" {
			w.Header().Set("Content-Length", fmt.Sprint(n))
		}
		w.Write([]byte(strings.Repeat("x", n)))
	})
	l := rawLoaderWith(t, Config{MemoryLimitMiB: 16}, []string{srv.URL})
	for _, p := range []string{"/sized", "/chunked"} {
		if _, err := l.Load(context.Background(), "http:"+srv.URL+p); err == nil ||
			!strings.Contains(err.Error(), fmt.Sprintf("response body is over the %d-byte cap", limit)) {
			t.Errorf("%s: %v, want the cap", p, err)
		}
	}
	res, err := l.Load(context.Background(), "httplen:"+srv.URL+"/at-cap")
	if want := fmt.Sprintf("200 %d", limit); err != nil || string(res.Value) != want {
		t.Errorf("a body at the cap: %q, %v; want %q", res.Value, err, want)
	}
}
