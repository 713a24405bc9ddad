package api

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestHTTPCaching: a Get over HTTP GET carries Cache-Control from the
// entry's TTL (no-cache when it never expires) and an ETag, answers
// If-None-Match with 304, and a not-found answer is no-store; a Get over
// POST carries none of it.
func TestHTTPCaching(t *testing.T) {
	addr, g := serveGroup(t, Config{}, ServeOptions{})
	ctx := context.Background()
	if err := g.Set(ctx, "forever", []byte("v1"), 0); err != nil {
		t.Fatal(err)
	}
	if err := g.Set(ctx, "brief", []byte("v2"), 100*time.Second); err != nil {
		t.Fatal(err)
	}
	get := func(key, ifNoneMatch string) *http.Response {
		t.Helper()
		msg := url.QueryEscape(`{"group":"g","key":"` + key + `"}`)
		req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/distcache.v1.CacheService/Get?connect=v1&encoding=json&message="+msg, nil)
		if err != nil {
			t.Fatal(err)
		}
		if ifNoneMatch != "" {
			req.Header.Set("If-None-Match", ifNoneMatch)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		_ = res.Body.Close()
		return res
	}

	res := get("forever", "")
	etag := res.Header.Get("ETag")
	if res.StatusCode != 200 || res.Header.Get("Cache-Control") != "no-cache" || !strings.HasPrefix(etag, `W/"`) {
		t.Fatalf("forever: %d, Cache-Control %q, ETag %q", res.StatusCode, res.Header.Get("Cache-Control"), etag)
	}
	if res := get("forever", etag); res.StatusCode != http.StatusNotModified || res.Header.Get("ETag") != etag {
		t.Fatalf("If-None-Match %s: %d, ETag %q; want 304", etag, res.StatusCode, res.Header.Get("ETag"))
	}
	if err := g.Set(ctx, "forever", []byte("v1 changed"), 0); err != nil {
		t.Fatal(err)
	}
	if res := get("forever", etag); res.StatusCode != 200 || res.Header.Get("ETag") == etag {
		t.Fatalf("after a change, If-None-Match the old ETag: %d, ETag %q; want 200 and a new ETag", res.StatusCode, res.Header.Get("ETag"))
	}

	res = get("brief", "")
	age, err := strconv.Atoi(strings.TrimPrefix(res.Header.Get("Cache-Control"), "max-age="))
	if res.StatusCode != 200 || err != nil || age < 0 || age > 100 {
		t.Fatalf("brief: %d, Cache-Control %q; want max-age at most 100", res.StatusCode, res.Header.Get("Cache-Control"))
	}

	if res := get("missing", ""); res.StatusCode != http.StatusNotFound || res.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("missing: %d, Cache-Control %q; want 404 no-store", res.StatusCode, res.Header.Get("Cache-Control"))
	}

	post, err := http.Post("http://"+addr+"/distcache.v1.CacheService/Get", "application/json", strings.NewReader(`{"group":"g","key":"forever"}`))
	if err != nil {
		t.Fatal(err)
	}
	_ = post.Body.Close()
	if post.StatusCode != 200 || post.Header.Get("Cache-Control") != "" || post.Header.Get("ETag") != "" {
		t.Fatalf("POST: %d, Cache-Control %q, ETag %q; want neither", post.StatusCode, post.Header.Get("Cache-Control"), post.Header.Get("ETag"))
	}
}

func TestETagMatches(t *testing.T) {
	etag := `W/"abc"`
	for header, want := range map[string]bool{
		"": false, `"abc"`: true, `W/"abc"`: true, `"x", W/"abc"`: true, "*": true, `"abd"`: false,
	} {
		if got := etagMatches(header, etag); got != want {
			t.Errorf("etagMatches(%q) = %v, want %v", header, got, want)
		}
	}
}
