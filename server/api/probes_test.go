package api

import (
	"io"
	"net/http"
	"sync/atomic"
	"testing"
)

// TestProbes: /healthz answers 200 always; /readyz 200 when ready, 503
// naming each reason when not, and 503 "shutting down" once health is
// shut down.
func TestProbes(t *testing.T) {
	var reasons atomic.Pointer[[]string]
	health := NewHealth()
	addr, _ := serveGroup(t, Config{Health: health, Ready: func() []string {
		if r := reasons.Load(); r != nil {
			return *r
		}
		return nil
	}}, ServeOptions{})
	get := func(path string) (int, string) {
		t.Helper()
		res, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		if res.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Cache-Control %q, want no-store", path, res.Header.Get("Cache-Control"))
		}
		return res.StatusCode, string(body)
	}
	for _, c := range []struct {
		reasons  []string
		shutdown bool
		path     string
		code     int
		body     string
	}{
		{nil, false, "/healthz", 200, "ok\n"},
		{nil, false, "/readyz", 200, "ready\n"},
		{[]string{"plugins compiling", "not in the ring"}, false, "/readyz", 503, "not ready: plugins compiling; not in the ring\n"},
		{nil, true, "/readyz", 503, "not ready: shutting down\n"},
		{nil, true, "/healthz", 200, "ok\n"},
	} {
		reasons.Store(&c.reasons)
		if c.shutdown {
			health.Shutdown()
		}
		if code, body := get(c.path); code != c.code || body != c.body {
			t.Errorf("%s with %v (shut down %v) = %d %q, want %d %q", c.path, c.reasons, c.shutdown, code, body, c.code, c.body)
		}
	}
}
