package api

import (
	"encoding/hex"
	"errors"
	"hash/fnv"
	"net/http"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"

	"github.com/distcache/distcache/server/cache"
)

// HTTP caching of a Get answered over HTTP GET (a Connect GET request):
// the answer carries Cache-Control derived from the entry and an ETag of
// its value, and a request whose If-None-Match names the value's ETag is
// answered 304 Not Modified. Answers to POST carry neither: HTTP caches do
// not keep them.
//
//   - An entry that expires: "max-age=<whole seconds left>" (0 in its last
//     second), so no cache keeps it past its TTL.
//   - An entry that never expires: "no-cache": a cache may keep it but must
//     ask again each time, and the ETag makes that a 304.
//   - Not found: "no-store".
//
// The ETag is weak (W/"..."): the answer's ttl and source change between
// calls while its value, which the ETag hashes, does not.

// valueETag is the weak ETag of a value: FNV-1a 64 of its bytes.
func valueETag(value []byte) string {
	h := fnv.New64a()
	_, _ = h.Write(value)
	var sum [8]byte
	return `W/"` + hex.EncodeToString(h.Sum(sum[:0])) + `"`
}

// cacheControl is the Cache-Control of an answer holding v at now.
func cacheControl(v cache.Value, now time.Time) string {
	if v.Expires.IsZero() {
		return "no-cache"
	}
	left := max(v.Expires.Sub(now), 0)
	return "max-age=" + strconv.FormatInt(int64(left/time.Second), 10)
}

// etagMatches reports whether an If-None-Match header names etag ("*"
// names any), comparing weakly as RFC 9110 asks for If-None-Match.
func etagMatches(ifNoneMatch, etag string) bool {
	if ifNoneMatch == "" {
		return false
	}
	want := strings.TrimPrefix(etag, "W/")
	for _, t := range strings.Split(ifNoneMatch, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == want {
			return true
		}
	}
	return false
}

// httpCaching adds the caching headers to the answer of a Get over HTTP
// GET that found v, or returns the 304 error when the caller has it.
func httpCaching(method string, reqHeader, resHeader http.Header, v cache.Value, now time.Time) error {
	if method != http.MethodGet {
		return nil
	}
	etag := valueETag(v.Bytes)
	cc := cacheControl(v, now)
	if etagMatches(reqHeader.Get("If-None-Match"), etag) {
		h := http.Header{}
		h.Set("ETag", etag)
		h.Set("Cache-Control", cc)
		return connect.NewNotModifiedError(h)
	}
	resHeader.Set("ETag", etag)
	resHeader.Set("Cache-Control", cc)
	return nil
}

// noStore marks the error answer of a Get over HTTP GET as not to be
// kept by HTTP caches.
func noStore(method string, err error) error {
	var ce *connect.Error
	if method == http.MethodGet && errors.As(err, &ce) {
		ce.Meta().Set("Cache-Control", "no-store")
	}
	return err
}
