package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	distcachev1 "github.com/distcache/distcache/gen/distcache/v1"
	"github.com/distcache/distcache/gen/distcache/v1/distcachev1connect"
)

// The raw key path, for curl and CDNs:
//
//	GET|HEAD /kv/{group}/{key}   the value as the body (application/octet-stream)
//	PUT      /kv/{group}/{key}   the body is the value; ?ttl=30s or a Distcache-Ttl header
//	DELETE   /kv/{group}/{key}
//
// Each request is made into the CacheService call it stands for and
// served by the same Connect handler, in process: the same validation,
// limits, tokens (the Authorization header), rate limits, routing to the
// key's owner and errors, which come back as Connect's JSON error body
// and HTTP status ({"code": "not_found", ...} with 404). A GET answers
// with the caching headers of a Get over HTTP GET (httpcache.go).

// kvTTLHeader carries a PUT's TTL, as ?ttl= does.
const kvTTLHeader = "Distcache-Ttl"

// kvHandler serves /kv/ through cache, the CacheService's Connect
// handler; maxValueBytes bounds a PUT's body.
type kvHandler struct {
	cache         http.Handler
	maxValueBytes int64
}

func (k *kvHandler) register(mux *http.ServeMux) {
	mux.HandleFunc("GET /kv/{group}/{key...}", k.get) // and HEAD
	mux.HandleFunc("PUT /kv/{group}/{key...}", k.put)
	mux.HandleFunc("DELETE /kv/{group}/{key...}", k.del)
}

func (k *kvHandler) get(w http.ResponseWriter, r *http.Request) {
	var res distcachev1.GetResponse
	if !k.call(w, r, distcachev1connect.CacheServiceGetProcedure,
		&distcachev1.GetRequest{Group: r.PathValue("group"), Key: r.PathValue("key")}, &res) {
		return
	}
	etag := valueETag(res.GetValue())
	cc := "no-cache"
	if res.GetTtl() != nil {
		cc = "max-age=" + strconv.FormatInt(int64(res.GetTtl().AsDuration()/time.Second), 10)
	}
	w.Header().Set("ETag", etag)
	w.Header().Set("Cache-Control", cc)
	if etagMatches(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(res.GetValue())))
	_, _ = w.Write(res.GetValue())
}

func (k *kvHandler) put(w http.ResponseWriter, r *http.Request) {
	req := &distcachev1.SetRequest{Group: r.PathValue("group"), Key: r.PathValue("key")}
	ttl := r.URL.Query().Get("ttl")
	if ttl == "" {
		ttl = r.Header.Get(kvTTLHeader)
	}
	if ttl != "" {
		d, err := time.ParseDuration(ttl)
		if err != nil || d < 0 {
			kvError(w, http.StatusBadRequest, "invalid_argument", fmt.Sprintf("ttl %q is not a duration such as 30s or 5m", ttl))
			return
		}
		req.Ttl = durationpb.New(d)
	}
	// One byte more than the limit is read, so that a value over it is
	// refused by the Set as it is over every other protocol.
	value, err := io.ReadAll(io.LimitReader(r.Body, k.maxValueBytes+1))
	if err != nil {
		kvError(w, http.StatusBadRequest, "invalid_argument", "reading the value: "+err.Error())
		return
	}
	req.Value = value
	if k.call(w, r, distcachev1connect.CacheServiceSetProcedure, req, new(distcachev1.SetResponse)) {
		w.WriteHeader(http.StatusNoContent)
	}
}

func (k *kvHandler) del(w http.ResponseWriter, r *http.Request) {
	req := &distcachev1.DeleteRequest{Group: r.PathValue("group"), Key: r.PathValue("key")}
	if k.call(w, r, distcachev1connect.CacheServiceDeleteProcedure, req, new(distcachev1.DeleteResponse)) {
		w.WriteHeader(http.StatusNoContent)
	}
}

// call makes a Connect unary call of procedure with msg through the
// handler, carrying r's context, peer address, Authorization and trace
// headers, and decodes the answer into res. On an error it writes the
// Connect error (JSON body, HTTP status) to w and returns false.
func (k *kvHandler) call(w http.ResponseWriter, r *http.Request, procedure string, msg, res proto.Message) bool {
	body, err := proto.Marshal(msg)
	if err != nil {
		kvError(w, http.StatusInternalServerError, "internal", err.Error())
		return false
	}
	inner, err := http.NewRequestWithContext(r.Context(), http.MethodPost, procedure, bytes.NewReader(body))
	if err != nil {
		kvError(w, http.StatusInternalServerError, "internal", err.Error())
		return false
	}
	inner.RemoteAddr, inner.Host = r.RemoteAddr, r.Host
	for _, h := range []string{"Authorization", "Traceparent", "Tracestate", "Baggage", "X-Request-Id", "User-Agent"} {
		if v := r.Header.Values(h); len(v) > 0 {
			inner.Header[h] = v
		}
	}
	inner.Header.Set("Content-Type", "application/proto")
	inner.Header.Set("Connect-Protocol-Version", "1")
	rec := &recorder{header: http.Header{}}
	k.cache.ServeHTTP(rec, inner)
	if rec.status == 0 {
		rec.status = http.StatusOK // an empty answer: nothing was written
	}
	if rec.status != http.StatusOK {
		// Connect's unary error: the JSON body and status, as they are.
		for _, h := range []string{"Content-Type", "Retry-After"} {
			if v := rec.header.Get(h); v != "" {
				w.Header().Set(h, v)
			}
		}
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(rec.status)
		_, _ = w.Write(rec.body.Bytes())
		return false
	}
	if err := proto.Unmarshal(rec.body.Bytes(), res); err != nil {
		kvError(w, http.StatusInternalServerError, "internal", "decoding the answer: "+err.Error())
		return false
	}
	return true
}

// kvError writes an error as Connect does: {"code", "message"} in JSON.
func kvError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"code": code, "message": message})
}

// recorder is a ResponseWriter that keeps the answer in memory (a
// unary answer: at most one value).
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(p)
}
