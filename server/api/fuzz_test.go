package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"strconv"
	"strings"
	"testing"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	distcachev1 "github.com/distcache/distcache/gen/distcache/v1"
	"github.com/distcache/distcache/server/cache"
	"github.com/distcache/distcache/server/cluster"
)

// fuzzMethods are the unary procedures FuzzHandlers sends bodies to, with
// a message of each one's request type.
var fuzzMethods = []struct {
	path string
	req  func() proto.Message
}{
	{"/distcache.v1.CacheService/Get", func() proto.Message { return &distcachev1.GetRequest{} }},
	{"/distcache.v1.CacheService/Set", func() proto.Message { return &distcachev1.SetRequest{} }},
	{"/distcache.v1.CacheService/Delete", func() proto.Message { return &distcachev1.DeleteRequest{} }},
	{"/distcache.v1.AdminService/GetStats", func() proto.Message { return &distcachev1.GetStatsRequest{} }},
	{"/distcache.v1.AdminService/Purge", func() proto.Message { return &distcachev1.PurgeRequest{} }},
	{"/distcache.v1.AdminService/ListPlugins", func() proto.Message { return &distcachev1.ListPluginsRequest{} }},
	{"/distcache.v1.AdminService/SetGroupPolicy", func() proto.Message { return &distcachev1.SetGroupPolicyRequest{} }},
	{"/distcache.v1.ClusterService/ListMembers", func() proto.Message { return &distcachev1.ListMembersRequest{} }},
	{"/distcache.v1.ClusterService/Owner", func() proto.Message { return &distcachev1.OwnerRequest{} }},
	{"/grpc.health.v1.Health/Check", func() proto.Message { return &healthpb.HealthCheckRequest{} }},
	{"/grpc.health.v1.Health/List", func() proto.Message { return &healthpb.HealthListRequest{} }},
}

// The protocols FuzzHandlers speaks; a body of the gRPC ones is framed in
// an envelope when the fuzz input asks for it.
const (
	protoConnectJSON = iota
	protoConnectBinary
	protoGRPC
	protoGRPCWeb
	protoCount
)

var protoContentTypes = [protoCount]string{"application/json", "application/proto", "application/grpc", "application/grpc-web+proto"}

// FuzzHandlers posts any body, in each protocol, to the public unary
// procedures of a handler from NewHandler over a real group. The handler
// never panics; it answers a well-formed response of its protocol (a
// Connect error as JSON with a code, a gRPC status in the headers or
// trailers); a body that does not decode as the request message is an
// error; and such a request, or a Purge without the admin token, leaves
// the group's entries as they were.
func FuzzHandlers(f *testing.F) {
	seed := func(method, protocol uint8, m proto.Message, frame bool) {
		var b []byte
		if protocol == protoConnectJSON {
			b, _ = protojson.Marshal(m)
		} else {
			b, _ = proto.Marshal(m)
		}
		f.Add(method, protocol, b, frame)
	}
	for p := uint8(0); p < protoCount; p++ {
		seed(0, p, &distcachev1.GetRequest{Group: "g", Key: "k"}, true)
		seed(1, p, &distcachev1.SetRequest{Group: "g", Key: "new", Value: []byte("v2")}, true)
		seed(2, p, &distcachev1.DeleteRequest{Group: "g", Key: "absent"}, true)
		seed(3, p, &distcachev1.GetStatsRequest{}, true)
		seed(4, p, &distcachev1.PurgeRequest{Group: "g"}, true)
		seed(8, p, &distcachev1.OwnerRequest{Key: "k"}, true)
		seed(9, p, &healthpb.HealthCheckRequest{}, true)
		f.Add(uint8(1), p, []byte("\x0a\x01g\x12\x01k\x1a\x03bad\x22"), true)
		f.Add(uint8(2), p, []byte{}, false)
		f.Add(uint8(0), p, []byte(`{"group": "g", "key": `), false)
	}
	f.Add(uint8(1), uint8(protoConnectJSON), []byte(`{"group":"g","key":"k","value":"not base64!"}`), false)
	f.Add(uint8(1), uint8(protoConnectJSON), []byte(`{"group":"g","key":"k","ttl":"-5s"}`), false)
	f.Add(uint8(3), uint8(protoGRPC), []byte("\x80\x00\x00\x00\x00"), false)
	f.Add(uint8(3), uint8(protoGRPCWeb), []byte("\x00\xff\xff\xff\xff"), false)

	g, err := cache.NewGroup(cache.Config{Name: "g", Capacity: 1 << 20})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { g.Close() })
	h, err := NewHandler(Config{Groups: oneGroup{g}, AdminToken: "secret", Cluster: fuzzCluster{
		ring: cluster.NewRing([]cluster.Member{{ID: "n1", Addr: "127.0.0.1:1"}}, 1),
	}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, method, protocol uint8, body []byte, frame bool) {
		ctx := context.Background()
		if err := g.Set(ctx, "k", []byte("v"), 0); err != nil {
			t.Fatal(err)
		}
		m := fuzzMethods[int(method)%len(fuzzMethods)]
		protocol %= protoCount
		if frame && protocol >= protoGRPC {
			body = envelope(0, body)
		}
		decodes := decodesAs(m.req(), protocol, body)
		before := snapshot(ctx, t, g)

		req := httptest.NewRequest(http.MethodPost, m.path, bytes.NewReader(body))
		req.Header.Set("Content-Type", protoContentTypes[protocol])
		if protocol == protoGRPC {
			req.ProtoMajor, req.ProtoMinor, req.Proto = 2, 0, "HTTP/2.0"
			req.Header.Set("Te", "trailers")
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		res := rec.Result()
		ok, code := outcome(t, protocol, res, rec.Body.Bytes())
		if !decodes && ok {
			t.Fatalf("%s accepted a body that is not a %T: %q", m.path, m.req(), body)
		}
		if ok && strings.HasSuffix(m.path, "/Purge") {
			t.Fatalf("Purge without the admin token succeeded")
		}
		if after := snapshot(ctx, t, g); (!ok || !decodes) && after != before {
			t.Fatalf("%s with %q failed (%s) but changed the group: %v -> %v", m.path, body, code, before, after)
		}
	})
}

// fuzzCluster is a Cluster of one fixed ring.
type fuzzCluster struct{ ring *cluster.Ring }

func (c fuzzCluster) Ring() *cluster.Ring      { return c.ring }
func (c fuzzCluster) Self() string             { return "n1" }
func (c fuzzCluster) SuspectID(id string) bool { return false }

// groupState is what a request may change in the fuzz group.
type groupState struct {
	items, bytes int64
	k            string
}

func snapshot(ctx context.Context, t *testing.T, g *cache.Group) groupState {
	s := g.Stats()
	v, err := g.Get(ctx, "k")
	if err != nil && !errors.Is(err, cache.ErrNotFound) {
		t.Fatal(err)
	}
	return groupState{items: s.Items, bytes: s.Bytes, k: string(v.Bytes)}
}

// envelope frames msg as the gRPC and Connect streaming protocols do.
func envelope(flags byte, msg []byte) []byte {
	b := make([]byte, 5, 5+len(msg))
	b[0] = flags
	binary.BigEndian.PutUint32(b[1:], uint32(len(msg)))
	return append(b, msg...)
}

// decodesAs reports whether body is a request message m in protocol, as
// connect-go reads it: protojson discarding unknown fields, or binary;
// for gRPC, exactly one uncompressed enveloped message.
func decodesAs(m proto.Message, protocol uint8, body []byte) bool {
	switch protocol {
	case protoConnectJSON:
		return len(body) > 0 && protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(body, m) == nil
	case protoConnectBinary:
		return proto.Unmarshal(body, m) == nil
	}
	if len(body) < 5 || body[0] != 0 || int(binary.BigEndian.Uint32(body[1:])) != len(body)-5 {
		return false
	}
	return proto.Unmarshal(body[5:], m) == nil
}

// outcome checks that res is a well-formed answer of protocol and returns
// whether it is a success, and the error code (or gRPC status) if not.
func outcome(t *testing.T, protocol uint8, res *http.Response, body []byte) (ok bool, code string) {
	t.Helper()
	if res.StatusCode < 100 || res.StatusCode > 599 {
		t.Fatalf("HTTP status %d", res.StatusCode)
	}
	switch protocol {
	case protoConnectJSON, protoConnectBinary:
		if res.StatusCode == http.StatusOK {
			return true, ""
		}
		var e struct {
			Code string `json:"code"`
		}
		if err := json.Unmarshal(body, &e); err != nil || e.Code == "" || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
			t.Fatalf("HTTP %d %s, not a Connect error: %q", res.StatusCode, res.Header.Get("Content-Type"), body)
		}
		return false, e.Code
	case protoGRPC:
		status := res.Header.Get("Grpc-Status") + res.Trailer.Get("Grpc-Status")
		return grpcStatus(t, res, status)
	}
	status := res.Header.Get("Grpc-Status")
	if status == "" { // the trailers are the last frame of the body
		for len(body) >= 5 {
			n := int(binary.BigEndian.Uint32(body[1:]))
			if len(body)-5 < n {
				t.Fatalf("gRPC-Web frame of %d bytes, %d left", n, len(body)-5)
			}
			if body[0]&0x80 != 0 {
				tr, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(append(body[5:5+n], "\r\n"...)))).ReadMIMEHeader()
				if err != nil {
					t.Fatalf("gRPC-Web trailers %q: %v", body[5:5+n], err)
				}
				status = tr.Get("Grpc-Status")
			}
			body = body[5+n:]
		}
	}
	return grpcStatus(t, res, status)
}

func grpcStatus(t *testing.T, res *http.Response, status string) (bool, string) {
	t.Helper()
	n, err := strconv.Atoi(status)
	if res.StatusCode != http.StatusOK || err != nil || n < 0 || n > 16 {
		t.Fatalf("HTTP %d with grpc-status %q", res.StatusCode, status)
	}
	return n == 0, status
}
