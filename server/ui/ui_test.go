package ui

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	h := Handler()
	page := httptest.NewRecorder()
	h.ServeHTTP(page, httptest.NewRequest(http.MethodGet, "/ui/", nil))
	etag := page.Header().Get("ETag")
	for _, c := range []struct {
		name, method, path string
		header             map[string]string
		code               int
		contentType        string // prefix; empty checks nothing
		body               string // substring; empty checks nothing
	}{
		{"page", "GET", "/ui/", nil, 200, "text/html; charset=utf-8", `<script type="module" src="app.js">`},
		{"script", "GET", "/ui/app.js", nil, 200, "text/javascript; charset=utf-8", ""},
		{"styles", "GET", "/ui/style.css", nil, 200, "text/css; charset=utf-8", ""},
		{"head", "HEAD", "/ui/", nil, 200, "text/html", ""},
		{"unchanged page", "GET", "/ui/", map[string]string{"If-None-Match": etag}, 304, "", ""},
		{"index.html goes to the directory", "GET", "/ui/index.html", nil, 301, "", ""},
		{"missing file", "GET", "/ui/nope.js", nil, 404, "text/plain", ""},
		{"post", "POST", "/ui/", nil, 405, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest(c.method, c.path, nil)
			for k, v := range c.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != c.code {
				t.Fatalf("%s %s: code %d, want %d", c.method, c.path, rec.Code, c.code)
			}
			if got := rec.Header().Get("Content-Type"); !strings.HasPrefix(got, c.contentType) {
				t.Errorf("Content-Type %q, want %q", got, c.contentType)
			}
			if !strings.Contains(rec.Body.String(), c.body) {
				t.Errorf("body lacks %q", c.body)
			}
			if c.code == 200 && rec.Header().Get("Cache-Control") != "no-cache" {
				t.Errorf("Cache-Control %q, want no-cache", rec.Header().Get("Cache-Control"))
			}
		})
	}
	if etag == "" {
		t.Error("the page has no ETag")
	}
}
