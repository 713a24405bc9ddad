package e2e

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// Headers of a browser's preflight for a Connect or gRPC-Web call: the
// request headers are lowercase and sorted, as browsers send them.
const (
	preflightHeaders      = "connect-protocol-version,content-type,x-grpc-web"
	adminPreflightHeaders = "authorization,connect-protocol-version,content-type"
)

// TestCORS starts a node with an allow-list of one origin, and one with
// the default list, and checks with real preflights and real calls that
// only the origins on the list get CORS headers; the browser refuses the
// answer of a call that has none.
func TestCORS(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		allowed []string
		refused []string
	}{
		{
			name:    "allow-list",
			args:    []string{"--cors-origins", "https://app.example"},
			allowed: []string{"https://app.example"},
			refused: []string{"https://evil.example", "http://localhost:3000", "http://app.example"},
		},
		{
			name:    "default",
			allowed: []string{"http://localhost:5173", "http://127.0.0.1:5173", "http://[::1]:5173"},
			refused: []string{"https://evil.example", "https://app.example", "http://localhost.evil.example:5173"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n := startNode(t, append([]string{"--admin-token", "tok"}, tt.args...)...)
			for _, origin := range tt.allowed {
				t.Run("allows "+origin, func(t *testing.T) { wantCORS(t, n.baseURL, origin, true) })
			}
			for _, origin := range tt.refused {
				t.Run("refuses "+origin, func(t *testing.T) { wantCORS(t, n.baseURL, origin, false) })
			}
		})
	}
}

// wantCORS sends from origin a preflight and a real call of
// CacheService/Get, and a preflight of an admin call, and checks that the
// answers carry CORS headers for origin if and only if allowed.
func wantCORS(t *testing.T, baseURL, origin string, allowed bool) {
	t.Helper()
	get := baseURL + "/distcache.v1.CacheService/Get"
	purge := baseURL + "/distcache.v1.AdminService/Purge"
	for _, pf := range []struct{ url, headers string }{{get, preflightHeaders}, {purge, adminPreflightHeaders}} {
		status, h := corsRequest(t, http.MethodOptions, pf.url, origin, pf.headers)
		if !allowed {
			wantNoCORS(t, "preflight of "+pf.url, h)
			continue
		}
		if status != http.StatusNoContent && status != http.StatusOK {
			t.Errorf("preflight of %s: HTTP %d, want 204 or 200", pf.url, status)
		}
		wantHeader(t, h, "Access-Control-Allow-Origin", origin)
		wantInList(t, h, "Access-Control-Allow-Methods", "POST")
		for name := range strings.SplitSeq(pf.headers, ",") {
			wantInList(t, h, "Access-Control-Allow-Headers", name)
		}
	}
	// The node answers the call whatever the origin: CORS is the
	// browser's to enforce, and it refuses an answer without the headers.
	status, h := corsRequest(t, http.MethodPost, get, origin, "")
	if status != http.StatusOK {
		t.Errorf("POST %s from %s: HTTP %d, want 200", get, origin, status)
	}
	if !allowed {
		wantNoCORS(t, "POST", h)
		return
	}
	wantHeader(t, h, "Access-Control-Allow-Origin", origin)
	wantInList(t, h, "Access-Control-Expose-Headers", "grpc-status")
}

// corsRequest sends a request from origin to url and returns the status
// and headers of the answer. OPTIONS is a preflight of a POST with the
// request headers reqHeaders; POST is a Connect JSON call of Get.
func corsRequest(t *testing.T, method, url, origin, reqHeaders string) (int, http.Header) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), readyTimeout)
	defer cancel()
	var body io.Reader
	if method == http.MethodPost {
		body = strings.NewReader(`{"group":"default","key":"hello"}`)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Origin", origin)
	if method == http.MethodOptions {
		req.Header.Set("Access-Control-Request-Method", http.MethodPost)
		req.Header.Set("Access-Control-Request-Headers", reqHeaders)
	} else {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s from %s: %v", method, url, origin, err)
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header
}

// wantNoCORS fails unless h has no Access-Control-* header.
func wantNoCORS(t *testing.T, what string, h http.Header) {
	t.Helper()
	for name := range h {
		if strings.HasPrefix(name, "Access-Control-") {
			t.Errorf("%s: %s: %q, want no CORS header", what, name, h.Get(name))
		}
	}
}

// wantHeader fails unless h's header name is want.
func wantHeader(t *testing.T, h http.Header, name, want string) {
	t.Helper()
	if got := h.Values(name); len(got) != 1 || got[0] != want {
		t.Errorf("%s = %q, want %q", name, got, want)
	}
}

// wantInList fails unless h's header name, a comma-separated list, holds
// item (compared without case).
func wantInList(t *testing.T, h http.Header, name, item string) {
	t.Helper()
	var items []string
	for _, v := range h.Values(name) {
		for it := range strings.SplitSeq(v, ",") {
			items = append(items, strings.ToLower(strings.TrimSpace(it)))
		}
	}
	if !slices.Contains(items, strings.ToLower(item)) {
		t.Errorf("%s = %q, want it to list %s", name, h.Values(name), item)
	}
}
