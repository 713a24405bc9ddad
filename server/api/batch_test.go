package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"buf.build/go/protovalidate"
	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	distcachev1 "github.com/distcache/distcache/gen/distcache/v1"
	"github.com/distcache/distcache/gen/distcache/v1/distcachev1connect"
)

// batchClients are the protocols a batch test runs in.
func batchClients(addr string) map[string]distcachev1connect.CacheServiceClient {
	url := "http://" + addr
	h2c := &http.Client{Transport: &http.Transport{Protocols: h2cOnly()}}
	return map[string]distcachev1connect.CacheServiceClient{
		"connect+json": distcachev1connect.NewCacheServiceClient(http.DefaultClient, url, connect.WithProtoJSON()),
		"grpc":         distcachev1connect.NewCacheServiceClient(h2c, url, connect.WithGRPC()),
		"grpcweb":      distcachev1connect.NewCacheServiceClient(http.DefaultClient, url, connect.WithGRPCWeb()),
	}
}

// TestBatchPerKeyStatus checks that each key of a batch gets the answer
// its single call would: a bad key its own invalid_argument naming the
// field, a missing key not_found, the others their values.
func TestBatchPerKeyStatus(t *testing.T) {
	addr, _ := serveGroup(t, Config{MaxValueBytes: 64, MaxBatchKeys: 8}, ServeOptions{})
	long := strings.Repeat("x", 251)
	for name, c := range batchClients(addr) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			set, err := c.SetMany(ctx, connect.NewRequest(&distcachev1.SetManyRequest{Group: "g", Entries: []*distcachev1.SetEntry{
				{Key: "a", Value: []byte("1")},
				{Key: "", Value: []byte("bad key")},
				{Key: "b", Value: []byte("2"), Ttl: durationpb.New(3600e9)},
				{Key: "c", Value: make([]byte, 65)},                                    // over --max-value-bytes
				{Key: "d", Value: []byte("4"), Ttl: durationpb.New(-1e9)},              // negative ttl
				{Key: "e", Value: []byte("5"), Ttl: durationpb.New(366 * 24 * 3600e9)}, // over a year
			}}))
			if err != nil {
				t.Fatal(err)
			}
			wantCodes(t, "SetMany", writeErrs(set.Msg.GetResults()), "", "invalid_argument", "", "invalid_argument", "invalid_argument", "invalid_argument")
			wantViolation(t, set.Msg.GetResults()[1].GetError(), "key", "string.min_bytes")
			wantViolation(t, set.Msg.GetResults()[3].GetError(), "value", "bytes.max_len")
			wantViolation(t, set.Msg.GetResults()[4].GetError(), "ttl", "duration.gte_lte")

			get, err := c.GetMany(ctx, connect.NewRequest(&distcachev1.GetManyRequest{Group: "g",
				Keys: []string{"a", "", "missing", "b", long, "c"}}))
			if err != nil {
				t.Fatal(err)
			}
			rs := get.Msg.GetResults()
			errs := make([]*distcachev1.KeyError, len(rs))
			for i, r := range rs {
				errs[i] = r.GetError()
				if r.GetFound() == (r.GetError() != nil) {
					t.Errorf("result %d: found %v with error %v", i, r.GetFound(), r.GetError())
				}
			}
			wantCodes(t, "GetMany", errs, "", "invalid_argument", "not_found", "", "invalid_argument", "not_found")
			wantViolation(t, errs[4], "key", "string.max_bytes")
			if string(rs[0].GetValue()) != "1" || string(rs[3].GetValue()) != "2" || rs[0].GetSource() != distcachev1.Source_SOURCE_LOCAL {
				t.Errorf("values %q %q, source %v", rs[0].GetValue(), rs[3].GetValue(), rs[0].GetSource())
			}
			if rs[0].GetTtl() != nil || rs[3].GetTtl() == nil {
				t.Errorf("ttls %v and %v, want none and about an hour", rs[0].GetTtl(), rs[3].GetTtl())
			}

			del, err := c.DeleteMany(ctx, connect.NewRequest(&distcachev1.DeleteManyRequest{Group: "g", Keys: []string{"a", long, "never"}}))
			if err != nil {
				t.Fatal(err)
			}
			wantCodes(t, "DeleteMany", writeErrs(del.Msg.GetResults()), "", "invalid_argument", "")
			if _, err := c.Get(ctx, connect.NewRequest(&distcachev1.GetRequest{Group: "g", Key: "a"})); connect.CodeOf(err) != connect.CodeNotFound {
				t.Errorf("Get after DeleteMany: %v, want not_found", err)
			}
		})
	}
}

// TestBatchLimits checks the whole-batch refusals and the empty batch.
func TestBatchLimits(t *testing.T) {
	addr, _ := serveGroup(t, Config{MaxBatchKeys: 3}, ServeOptions{})
	c := batchClients(addr)["grpc"]
	ctx := context.Background()
	four := []string{"a", "b", "c", "d"}
	_, err := c.GetMany(ctx, connect.NewRequest(&distcachev1.GetManyRequest{Group: "g", Keys: four}))
	if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "at most 3 keys") {
		t.Errorf("GetMany of 4 keys: %v, want invalid_argument naming the limit of 3", err)
	}
	_, err = c.DeleteMany(ctx, connect.NewRequest(&distcachev1.DeleteManyRequest{Group: "g", Keys: four}))
	if connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Errorf("DeleteMany of 4 keys: %v, want invalid_argument", err)
	}
	entries := []*distcachev1.SetEntry{{Key: "a"}, {Key: "b"}, {Key: "c"}, {Key: "d"}}
	_, err = c.SetMany(ctx, connect.NewRequest(&distcachev1.SetManyRequest{Group: "g", Entries: entries}))
	if connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Errorf("SetMany of 4 entries: %v, want invalid_argument", err)
	}
	_, err = c.GetMany(ctx, connect.NewRequest(&distcachev1.GetManyRequest{Group: "nope", Keys: []string{"a"}}))
	if connect.CodeOf(err) != connect.CodeNotFound {
		t.Errorf("GetMany of an unknown group: %v, want not_found", err)
	}
	_, err = c.GetMany(ctx, connect.NewRequest(&distcachev1.GetManyRequest{Group: "Bad!", Keys: []string{"a"}}))
	if connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Errorf("GetMany of a bad group name: %v, want invalid_argument", err)
	}
	res, err := c.GetMany(ctx, connect.NewRequest(&distcachev1.GetManyRequest{Group: "g"}))
	if err != nil || len(res.Msg.GetResults()) != 0 {
		t.Errorf("empty GetMany: %v, %d results; want no error and none", err, len(res.Msg.GetResults()))
	}
}

// TestBatchRulesMatchProto checks that the batch calls' quick checks of
// keys and ttls agree with protovalidate on the single calls' rules, at
// and around every bound.
func TestBatchRulesMatchProto(t *testing.T) {
	keys := []string{"", "k", strings.Repeat("k", maxKeyBytes), strings.Repeat("k", maxKeyBytes+1), strings.Repeat("é", maxKeyBytes/2+1)}
	ttls := []*durationpb.Duration{nil, {}, {Seconds: -1}, {Nanos: -1}, {Seconds: maxTTLSeconds}, {Seconds: maxTTLSeconds, Nanos: 1}, {Seconds: maxTTLSeconds - 1, Nanos: 999_999_999}}
	s := &cacheService{maxValueBytes: 1 << 20}
	for _, key := range keys {
		for _, ttl := range ttls {
			full := protovalidate.Validate(&distcachev1.SetRequest{Group: "g", Key: key, Ttl: ttl})
			quick := s.checkEntry("g", &distcachev1.SetEntry{Key: key, Ttl: ttl})
			if (full == nil) != (quick == nil) {
				t.Errorf("key of %d bytes, ttl %v: protovalidate says %v, the batch check %v", len(key), ttl, full, quick)
			}
		}
		full := protovalidate.Validate(&distcachev1.GetRequest{Group: "g", Key: key})
		if (full == nil) != keyOK(key) {
			t.Errorf("key of %d bytes: protovalidate says %v, the batch check %v", len(key), full, keyOK(key))
		}
		for _, ttl := range ttls {
			set := &distcachev1.SetRequest{Group: "g", Key: key, Ttl: ttl}
			if full := protovalidate.Validate(set); (full == nil) != setOK(set) {
				t.Errorf("Set of a %d-byte key, ttl %v: protovalidate says %v, the pipeline check %v", len(key), ttl, full, setOK(set))
			}
		}
	}
	for _, group := range []string{"", "g", "default", "a-b_c9", "A", "9a", "a.b", "é", strings.Repeat("a", 63), strings.Repeat("a", 64), "a b"} {
		full := protovalidate.Validate(&distcachev1.GetRequest{Group: group, Key: "k"})
		if (full == nil) != groupOK(group) {
			t.Errorf("group %q: protovalidate says %v, the pipeline check %v", group, full, groupOK(group))
		}
		// The batch requests have no rule but the group's, whatever their
		// keys and entries: prevalidated skips protovalidate for them.
		long := strings.Repeat("k", 300)
		for _, m := range []proto.Message{
			&distcachev1.GetManyRequest{Group: group, Keys: []string{"", long}},
			&distcachev1.DeleteManyRequest{Group: group, Keys: []string{"", long}},
			&distcachev1.SetManyRequest{Group: group, Entries: []*distcachev1.SetEntry{{Key: long, Ttl: &durationpb.Duration{Seconds: -1}}}},
		} {
			if full := protovalidate.Validate(m); (full == nil) != groupOK(group) {
				t.Errorf("%T of group %q: protovalidate says %v, prevalidated %v", m, group, full, groupOK(group))
			}
		}
	}
}

// TestPipeline sends interleaved good and bad calls on one stream, in
// gRPC and Connect: every id is answered once, a bad call with its
// error, and the stream goes on.
func TestPipeline(t *testing.T) {
	addr, _ := serveGroup(t, Config{}, ServeOptions{})
	url := "http://" + addr
	h2c := &http.Client{Transport: &http.Transport{Protocols: h2cOnly()}}
	for name, opts := range map[string][]connect.ClientOption{"grpc": {connect.WithGRPC()}, "connect": nil} {
		t.Run(name, func(t *testing.T) {
			c := distcachev1connect.NewCacheServiceClient(h2c, url, opts...)
			stream := c.Pipeline(context.Background())
			const n = 200
			want := map[uint64]string{} // id -> the error code expected, "" for none
			for i := range n {
				id := uint64(1000 + i)
				key := fmt.Sprintf("%s-%d", name, i%10)
				req := &distcachev1.PipelineRequest{Id: id}
				switch i % 5 {
				case 0:
					req.Call = &distcachev1.PipelineRequest_Set{Set: &distcachev1.SetRequest{Group: "g", Key: key, Value: []byte(key)}}
					want[id] = ""
				case 1:
					req.Call = &distcachev1.PipelineRequest_Get{Get: &distcachev1.GetRequest{Group: "g", Key: "never"}}
					want[id] = "not_found"
				case 2:
					req.Call = &distcachev1.PipelineRequest_Get{Get: &distcachev1.GetRequest{Group: "g", Key: ""}}
					want[id] = "invalid_argument"
				case 3:
					req.Call = &distcachev1.PipelineRequest_Delete{Delete: &distcachev1.DeleteRequest{Group: "nope", Key: key}}
					want[id] = "not_found"
				case 4:
					want[id] = "invalid_argument" // no call at all
				}
				if err := stream.Send(req); err != nil {
					t.Fatal(err)
				}
			}
			// A Get after its Set was answered sees the value.
			got := map[uint64]*distcachev1.PipelineResponse{}
			for len(got) < n {
				res, err := stream.Receive()
				if err != nil {
					t.Fatalf("after %d answers: %v", len(got), err)
				}
				if _, dup := got[res.GetId()]; dup {
					t.Fatalf("id %d answered twice", res.GetId())
				}
				got[res.GetId()] = res
			}
			for id, code := range want {
				if g := got[id].GetError().GetCode(); g != code {
					t.Errorf("id %d: code %q, want %q (%v)", id, g, code, got[id].GetError())
				}
			}
			if err := stream.Send(&distcachev1.PipelineRequest{Id: 1, Call: &distcachev1.PipelineRequest_Get{
				Get: &distcachev1.GetRequest{Group: "g", Key: name + "-0"}}}); err != nil {
				t.Fatal(err)
			}
			res, err := stream.Receive()
			if err != nil || res.GetId() != 1 || string(res.GetGet().GetValue()) != name+"-0" {
				t.Fatalf("Get after the Sets: %v, %v", res, err)
			}
			if err := stream.CloseRequest(); err != nil {
				t.Fatal(err)
			}
			if _, err := stream.Receive(); !errors.Is(err, io.EOF) {
				t.Fatalf("after CloseRequest: %v, want EOF", err)
			}
			if err := stream.CloseResponse(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestPipelineOversizedMessageEndsStream checks that the node's message
// limit applies to each message of a pipeline: one over it ends the
// stream with resource_exhausted.
func TestPipelineOversizedMessageEndsStream(t *testing.T) {
	addr, _ := serveGroup(t, Config{MaxValueBytes: 1024}, ServeOptions{})
	h2c := &http.Client{Transport: &http.Transport{Protocols: h2cOnly()}}
	c := distcachev1connect.NewCacheServiceClient(h2c, "http://"+addr, connect.WithGRPC())
	stream := c.Pipeline(context.Background())
	defer stream.CloseResponse()
	big := make([]byte, ReadLimit(1024)+1)
	_ = stream.Send(&distcachev1.PipelineRequest{Id: 1, Call: &distcachev1.PipelineRequest_Set{Set: &distcachev1.SetRequest{Group: "g", Key: "k", Value: big}}})
	_ = stream.CloseRequest()
	if _, err := stream.Receive(); connect.CodeOf(err) != connect.CodeResourceExhausted {
		t.Fatalf("after an oversized message: %v, want resource_exhausted", err)
	}
}

// TestPipelineScopes checks that each call of a pipeline needs the scope
// of its unary twin, and the stream a known token.
func TestPipelineScopes(t *testing.T) {
	tokens, err := ParseTokens(strings.NewReader(tokensFile))
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := serveGroup(t, Config{Tokens: tokens}, ServeOptions{})
	h2c := &http.Client{Transport: &http.Transport{Protocols: h2cOnly()}}
	call := func(token string) (get, set string, err error) {
		c := distcachev1connect.NewCacheServiceClient(h2c, "http://"+addr, connect.WithGRPC(), connect.WithInterceptors(bearer(token)))
		stream := c.Pipeline(context.Background())
		defer stream.CloseResponse()
		_ = stream.Send(&distcachev1.PipelineRequest{Id: 1, Call: &distcachev1.PipelineRequest_Get{Get: &distcachev1.GetRequest{Group: "g", Key: "k"}}})
		_ = stream.Send(&distcachev1.PipelineRequest{Id: 2, Call: &distcachev1.PipelineRequest_Set{Set: &distcachev1.SetRequest{Group: "g", Key: "k"}}})
		_ = stream.CloseRequest()
		codes := map[uint64]string{}
		for range 2 {
			res, err := stream.Receive()
			if err != nil {
				return "", "", err
			}
			codes[res.GetId()] = res.GetError().GetCode()
		}
		return codes[1], codes[2], nil
	}
	for _, tc := range []struct{ token, get, set string }{
		{"reader-0123456789abcdef", "not_found", "permission_denied"},
		{"writer-0123456789abcdef", "permission_denied", ""},
		{"readwrite-0123456789ab", "", ""}, // the writer's Set ran first or not: found or not_found
	} {
		get, set, err := call(tc.token)
		if err != nil {
			t.Fatalf("token %s: %v", tc.token, err)
		}
		if set != tc.set || (tc.get != "" && get != tc.get) || (tc.get == "" && get != "" && get != "not_found") {
			t.Errorf("token %s: get %q set %q, want %q %q", tc.token, get, set, tc.get, tc.set)
		}
	}
	if _, _, err := call("guess-0123456789abcdef"); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Errorf("unknown token: %v, want unauthenticated", err)
	}
}

// TestBatchHammer runs batches, pipelines and single calls on the same
// keys at once, under -race: every call must answer each key with a
// value some writer wrote or not_found.
func TestBatchHammer(t *testing.T) {
	addr, _ := serveGroup(t, Config{}, ServeOptions{})
	h2c := &http.Client{Transport: &http.Transport{Protocols: h2cOnly()}}
	c := distcachev1connect.NewCacheServiceClient(h2c, "http://"+addr, connect.WithGRPC())
	keys := []string{"k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7"}
	ctx := context.Background()
	var wg sync.WaitGroup
	errc := make(chan error, 16)
	check := func(key string, value []byte) {
		if len(value) > 0 && !strings.HasPrefix(string(value), key+"=") {
			errc <- fmt.Errorf("key %s has value %q", key, value)
		}
	}
	for w := range 4 {
		wg.Go(func() {
			for i := range 50 {
				entries := make([]*distcachev1.SetEntry, len(keys))
				for j, k := range keys {
					entries[j] = &distcachev1.SetEntry{Key: k, Value: fmt.Appendf(nil, "%s=%d.%d", k, w, i)}
				}
				if _, err := c.SetMany(ctx, connect.NewRequest(&distcachev1.SetManyRequest{Group: "g", Entries: entries})); err != nil {
					errc <- err
					return
				}
				res, err := c.GetMany(ctx, connect.NewRequest(&distcachev1.GetManyRequest{Group: "g", Keys: keys}))
				if err != nil {
					errc <- err
					return
				}
				for j, r := range res.Msg.GetResults() {
					check(keys[j], r.GetValue())
				}
				if _, err := c.DeleteMany(ctx, connect.NewRequest(&distcachev1.DeleteManyRequest{Group: "g", Keys: keys[:w+1]})); err != nil {
					errc <- err
					return
				}
			}
		})
		wg.Go(func() {
			stream := c.Pipeline(ctx)
			defer stream.CloseResponse()
			for i := range 100 {
				k := keys[(i+w)%len(keys)]
				req := &distcachev1.PipelineRequest{Id: uint64(i), Call: &distcachev1.PipelineRequest_Get{Get: &distcachev1.GetRequest{Group: "g", Key: k}}}
				if i%3 == 0 {
					req.Call = &distcachev1.PipelineRequest_Set{Set: &distcachev1.SetRequest{Group: "g", Key: k, Value: []byte(k + "=p")}}
				}
				if err := stream.Send(req); err != nil {
					errc <- err
					return
				}
			}
			_ = stream.CloseRequest()
			for range 100 {
				res, err := stream.Receive()
				if err != nil {
					errc <- err
					return
				}
				if e := res.GetError(); e != nil && e.GetCode() != "not_found" {
					errc <- fmt.Errorf("pipeline id %d: %v", res.GetId(), e)
				}
				check(keys[(int(res.GetId())+w)%len(keys)], res.GetGet().GetValue())
			}
		})
		wg.Go(func() {
			for i := range 100 {
				k := keys[(i*7+w)%len(keys)]
				res, err := c.Get(ctx, connect.NewRequest(&distcachev1.GetRequest{Group: "g", Key: k}))
				if err != nil && connect.CodeOf(err) != connect.CodeNotFound {
					errc <- err
					return
				}
				if err == nil {
					check(k, res.Msg.GetValue())
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
}

func writeErrs(rs []*distcachev1.WriteResult) []*distcachev1.KeyError {
	out := make([]*distcachev1.KeyError, len(rs))
	for i, r := range rs {
		out[i] = r.GetError()
	}
	return out
}

func wantCodes(t *testing.T, call string, errs []*distcachev1.KeyError, codes ...string) {
	t.Helper()
	if len(errs) != len(codes) {
		t.Fatalf("%s: %d results, want %d", call, len(errs), len(codes))
	}
	for i, e := range errs {
		if e.GetCode() != codes[i] {
			t.Errorf("%s result %d: code %q (%s), want %q", call, i, e.GetCode(), e.GetMessage(), codes[i])
		}
	}
}

func wantViolation(t *testing.T, e *distcachev1.KeyError, field, rule string) {
	t.Helper()
	for _, v := range e.GetViolations() {
		els := v.GetField().GetElements()
		if len(els) > 0 && els[len(els)-1].GetFieldName() == field && v.GetRuleId() == rule {
			return
		}
	}
	t.Errorf("error %v has no violation of %s by rule %s", e, field, rule)
}

// TestBatchRateLimit checks that a batch takes a token per key from its
// group's bucket, and that each call of a pipeline takes one, refused
// alone with resource_exhausted.
func TestBatchRateLimit(t *testing.T) {
	s := serveRateLimited(t, Tokens{})
	h2c := &http.Client{Transport: &http.Transport{Protocols: h2cOnly()}}
	c := distcachev1connect.NewCacheServiceClient(h2c, "http://"+s.addr, connect.WithGRPC())
	ctx := context.Background()
	keys := make([]string, rlBurst-1)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%d", i)
	}
	if _, err := c.GetMany(ctx, connect.NewRequest(&distcachev1.GetManyRequest{Group: "limited", Keys: keys})); err != nil {
		t.Fatalf("a batch of burst-1 keys: %v", err)
	}
	if _, err := c.GetMany(ctx, connect.NewRequest(&distcachev1.GetManyRequest{Group: "limited", Keys: keys[:2]})); connect.CodeOf(err) != connect.CodeResourceExhausted {
		t.Fatalf("2 more keys with 1 token left: %v, want resource_exhausted", err)
	}
	if _, err := c.GetMany(ctx, connect.NewRequest(&distcachev1.GetManyRequest{Group: "free", Keys: keys})); err != nil {
		t.Fatalf("a group without a limit: %v", err)
	}
	stream := c.Pipeline(ctx)
	defer stream.CloseResponse()
	for id := range 3 {
		_ = stream.Send(&distcachev1.PipelineRequest{Id: uint64(id), Call: &distcachev1.PipelineRequest_Get{Get: &distcachev1.GetRequest{Group: "limited", Key: "k"}}})
	}
	_ = stream.CloseRequest()
	codes := map[string]int{}
	for range 3 {
		res, err := stream.Receive()
		if err != nil {
			t.Fatal(err)
		}
		codes[res.GetError().GetCode()]++
	}
	if codes["resource_exhausted"] != 2 || codes["not_found"] != 1 {
		t.Errorf("pipeline answers by code %v, want 1 not_found (the last token) and 2 resource_exhausted", codes)
	}
}

// TestPipelineOutlivesBodyTimeout keeps a pipeline busy for several body
// timeouts: the node's cut-off for slow request bodies does not apply to
// it, as to no streaming call.
func TestPipelineOutlivesBodyTimeout(t *testing.T) {
	const bodyTimeout = 100 * time.Millisecond
	addr, _ := serveGroup(t, Config{}, ServeOptions{BodyTimeout: bodyTimeout})
	h2c := &http.Client{Transport: &http.Transport{Protocols: h2cOnly()}}
	c := distcachev1connect.NewCacheServiceClient(h2c, "http://"+addr, connect.WithGRPC())
	stream := c.Pipeline(context.Background())
	defer stream.CloseResponse()
	for id, start := uint64(0), time.Now(); time.Since(start) < 5*bodyTimeout; id++ {
		if err := stream.Send(&distcachev1.PipelineRequest{Id: id, Call: &distcachev1.PipelineRequest_Set{
			Set: &distcachev1.SetRequest{Group: "g", Key: "k", Value: []byte("v")}}}); err != nil {
			t.Fatalf("send %d after %v: %v", id, time.Since(start), err)
		}
		if res, err := stream.Receive(); err != nil || res.GetId() != id || res.GetError() != nil {
			t.Fatalf("answer %d after %v: %v, %v", id, time.Since(start), res, err)
		}
	}
}
