package api

import (
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/distcache/distcache/internal/testtool"
)

// TestKVPath drives /kv/{group}/{key} with plain HTTP: PUT a raw value
// (any bytes) with a TTL, GET and HEAD it back with caching headers, 304
// on If-None-Match, DELETE it; errors come back as Connect's JSON with its
// codes; tokens and the value limit apply as on the RPCs.
func TestKVPath(t *testing.T) {
	tokens, err := ParseTokens(strings.NewReader("read,write rw-0123456789abcdef\nread ro-0123456789abcdef\n"))
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := serveGroup(t, Config{Tokens: tokens, MaxValueBytes: 1024}, ServeOptions{})
	base := "http://" + addr + "/kv/g/"
	do := func(method, path, token, body string, header ...string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		_ = res.Body.Close()
		return res, string(b)
	}
	code := func(body string) string {
		var e struct{ Code string }
		_ = json.Unmarshal([]byte(body), &e)
		return e.Code
	}
	const rw, ro = "rw-0123456789abcdef", "ro-0123456789abcdef"
	raw := "bytes \x00\xff and a/slash key"

	if res, body := do(http.MethodPut, "a/b%2Fc", rw, raw, "Distcache-Ttl", "1h"); res.StatusCode != http.StatusNoContent {
		t.Fatalf("PUT: %d %s", res.StatusCode, body)
	}
	res, body := do(http.MethodGet, "a/b%2Fc", ro, "")
	if res.StatusCode != 200 || body != raw || res.Header.Get("Content-Type") != "application/octet-stream" {
		t.Fatalf("GET: %d %q %q", res.StatusCode, body, res.Header.Get("Content-Type"))
	}
	if age, err := strconv.Atoi(strings.TrimPrefix(res.Header.Get("Cache-Control"), "max-age=")); err != nil || age > 3600 || age < 3500 {
		t.Fatalf("GET Cache-Control %q, want max-age near 3600", res.Header.Get("Cache-Control"))
	}
	if res, _ := do(http.MethodGet, "a/b%2Fc", ro, "", "If-None-Match", res.Header.Get("ETag")); res.StatusCode != http.StatusNotModified {
		t.Fatalf("If-None-Match: %d, want 304", res.StatusCode)
	}
	if res, body := do(http.MethodHead, "a/b%2Fc", ro, ""); res.StatusCode != 200 || body != "" || res.ContentLength != int64(len(raw)) {
		t.Fatalf("HEAD: %d %q length %d", res.StatusCode, body, res.ContentLength)
	}
	for _, c := range []struct {
		name, method, path, token, body string
		header                          []string
		status                          int
		code                            string
	}{
		{"no token", http.MethodGet, "a/b%2Fc", "", "", nil, 401, "unauthenticated"},
		{"read token writes", http.MethodPut, "x", ro, "v", nil, 403, "permission_denied"},
		{"missing", http.MethodGet, "nope", ro, "", nil, 404, "not_found"},
		{"bad ttl", http.MethodPut, "x", rw, "v", []string{"Distcache-Ttl", "soon"}, 400, "invalid_argument"},
		{"over the value limit", http.MethodPut, "x", rw, strings.Repeat("v", 1025), nil, 400, "invalid_argument"},
		{"key too long", http.MethodGet, strings.Repeat("k", 300), ro, "", nil, 400, "invalid_argument"},
	} {
		res, body := do(c.method, c.path, c.token, c.body, c.header...)
		if res.StatusCode != c.status || code(body) != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.name, res.StatusCode, body, c.status, c.code)
		}
	}
	if res, _ := do(http.MethodDelete, "a/b%2Fc", rw, ""); res.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE: %d", res.StatusCode)
	}
	if res, _ := do(http.MethodGet, "a/b%2Fc", ro, ""); res.StatusCode != http.StatusNotFound {
		t.Fatalf("GET after DELETE: %d, want 404", res.StatusCode)
	}

	// With curl itself, as the README shows it.
	curl := testtool.Path(t, "curl", "apt-get install -y curl")
	if out, err := exec.Command(curl, "-sf", "-X", "PUT", "-H", "Authorization: Bearer "+rw, "--data-binary", "world", base+"hello").CombinedOutput(); err != nil {
		t.Fatalf("curl PUT: %v %s", err, out)
	}
	out, err := exec.Command(curl, "-sf", "-H", "Authorization: Bearer "+ro, base+"hello").Output()
	if err != nil || string(out) != "world" {
		t.Fatalf("curl GET = %q, %v; want world", out, err)
	}
}
