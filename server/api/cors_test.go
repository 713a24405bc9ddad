package api

import (
	"net/http"
	"strings"
	"testing"
)

// TestCORSHeaders: a preflight from an allowed origin asking for the trace
// context and request id headers is allowed by default, one asking for a
// header given in Config.CORSHeaders too, and one asking for any other
// header is refused.
func TestCORSHeaders(t *testing.T) {
	addr, _ := serveGroup(t, Config{CORSHeaders: []string{"X-Tenant"}}, ServeOptions{})
	preflight := func(headers string) (allowed bool, got string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodOptions, "http://"+addr+"/distcache.v1.CacheService/Get", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Origin", "http://localhost:5173")
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", headers)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		got = strings.ToLower(res.Header.Get("Access-Control-Allow-Headers"))
		return res.Header.Get("Access-Control-Allow-Origin") == "http://localhost:5173", got
	}
	for _, headers := range []string{
		"connect-protocol-version,content-type,traceparent",
		"baggage,content-type,traceparent,tracestate,x-request-id",
		"authorization,content-type,x-grpc-web,x-tenant", // the configured one
	} {
		allowed, got := preflight(headers)
		if !allowed {
			t.Errorf("preflight for %q refused", headers)
			continue
		}
		for _, h := range strings.Split(headers, ",") {
			if !strings.Contains(got, h) {
				t.Errorf("preflight for %q: Access-Control-Allow-Headers %q lacks %s", headers, got, h)
			}
		}
	}
	if allowed, _ := preflight("content-type,x-secret-thing"); allowed {
		t.Error("a preflight for an unlisted header was allowed")
	}
}
