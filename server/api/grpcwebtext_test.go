package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"connectrpc.com/connect"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/proto"

	distcachev1 "github.com/distcache/distcache/gen/distcache/v1"
	"github.com/distcache/distcache/gen/distcache/v1/distcachev1connect"
)

// textMode is an http.RoundTripper that turns connect-go's gRPC-Web calls
// into text-mode calls, as Google's grpc-web runtime sends them: the
// request body in base64 (in padded chunks of chunk bytes each, when
// chunk > 0), the response body decoded from base64. A response that is
// not text mode fails the call.
type textMode struct {
	base  http.RoundTripper // nil: http.DefaultTransport
	chunk int
}

func (m textMode) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	req = req.Clone(req.Context())
	req.Body = io.NopCloser(strings.NewReader(encodeChunks(body, m.chunk)))
	req.ContentLength = -1
	req.Header.Set("Content-Type", grpcWebText)
	req.Header.Set("Accept", grpcWebText)
	base := m.base
	if base == nil {
		base = http.DefaultTransport
	}
	res, err := base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if ct := res.Header.Get("Content-Type"); ct != grpcWebTextProto {
		_ = res.Body.Close()
		return nil, fmt.Errorf("response content type %q, want %q", ct, grpcWebTextProto)
	}
	res.Header.Set("Content-Type", grpcWebProto)
	res.Body = struct {
		io.Reader
		io.Closer
	}{newBase64Reader(res.Body), res.Body}
	return res, nil
}

// encodeChunks encodes b in padded base64, in chunks of chunk bytes each
// when chunk > 0.
func encodeChunks(b []byte, chunk int) string {
	if chunk <= 0 {
		return base64.StdEncoding.EncodeToString(b)
	}
	var sb strings.Builder
	for len(b) > 0 {
		n := min(chunk, len(b))
		sb.WriteString(base64.StdEncoding.EncodeToString(b[:n]))
		b = b[n:]
	}
	return sb.String()
}

// TestGRPCWebTextUnary: Set, Get and an invalid Set in text mode, over
// HTTP/1.1 and h2c, the request in one piece or in padded chunks of
// every alignment; the invalid Set's error keeps its code and its
// violation details.
func TestGRPCWebTextUnary(t *testing.T) {
	addr, _ := serveGroup(t, Config{}, ServeOptions{})
	ctx := context.Background()
	h2c := &http.Transport{Protocols: h2cOnly()}
	t.Cleanup(h2c.CloseIdleConnections)
	for _, tc := range []struct {
		name string
		mode textMode
	}{
		{"http1", textMode{}},
		{"http1 chunks of 1", textMode{chunk: 1}},
		{"http1 chunks of 2", textMode{chunk: 2}},
		{"http1 chunks of 7", textMode{chunk: 7}},
		{"h2c", textMode{base: h2c}},
		{"h2c chunks of 5", textMode{base: h2c, chunk: 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := distcachev1connect.NewCacheServiceClient(&http.Client{Transport: tc.mode}, "http://"+addr, connect.WithGRPCWeb())
			key, value := "k-"+tc.name, []byte("value of "+tc.name)
			if _, err := c.Set(ctx, connect.NewRequest(&distcachev1.SetRequest{Group: "g", Key: key, Value: value})); err != nil {
				t.Fatalf("Set: %v", err)
			}
			res, err := c.Get(ctx, connect.NewRequest(&distcachev1.GetRequest{Group: "g", Key: key}))
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if !bytes.Equal(res.Msg.GetValue(), value) {
				t.Fatalf("Get = %q, want %q", res.Msg.GetValue(), value)
			}
			_, err = c.Set(ctx, connect.NewRequest(&distcachev1.SetRequest{Group: "g", Key: "", Value: value}))
			if connect.CodeOf(err) != connect.CodeInvalidArgument {
				t.Fatalf("Set with an empty key: %v, want invalid_argument", err)
			}
			if f := violatedField(err); f != "key" {
				t.Fatalf("Set with an empty key: violation of %q in %v, want of key", f, err)
			}
		})
	}
}

// violatedField is the field of the first protovalidate violation in
// err's details, or "".
func violatedField(err error) string {
	cerr, ok := errors.AsType[*connect.Error](err)
	if !ok {
		return ""
	}
	for _, d := range cerr.Details() {
		if v, err := d.Value(); err == nil {
			if vs, ok := v.(*validate.Violations); ok && len(vs.GetViolations()) > 0 {
				els := vs.GetViolations()[0].GetField().GetElements()
				if len(els) > 0 {
					return els[0].GetFieldName()
				}
			}
		}
	}
	return ""
}

// TestGRPCWebTextStreaming: a Health/Watch in text mode gets each message
// as its own padded base64 chunk while the stream stays open: the first
// status at once, the next when the status changes.
func TestGRPCWebTextStreaming(t *testing.T) {
	health := NewHealth("svc")
	addr, _ := serveGroup(t, Config{Health: health}, ServeOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a deadline, not a timing
	defer cancel()
	msg, err := proto.Marshal(&healthpb.HealthCheckRequest{Service: "svc"})
	if err != nil {
		t.Fatal(err)
	}
	body := base64.StdEncoding.EncodeToString(envelope(0, msg))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+healthWatchProcedure, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", grpcWebText)
	req.Header.Set("Accept", grpcWebText)
	req.Header.Set("X-Grpc-Web", "1")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); res.StatusCode != http.StatusOK || ct != grpcWebTextProto {
		t.Fatalf("HTTP %d, content type %q; want 200, %s", res.StatusCode, ct, grpcWebTextProto)
	}
	r := bufio.NewReader(res.Body)
	for _, want := range []healthpb.HealthCheckResponse_ServingStatus{
		healthpb.HealthCheckResponse_SERVING, healthpb.HealthCheckResponse_NOT_SERVING,
	} {
		frame := readTextChunk(t, r)
		var got healthpb.HealthCheckResponse
		if frame[0] != 0 {
			t.Fatalf("frame flags %#x, want a message", frame[0])
		}
		if err := proto.Unmarshal(frame[5:], &got); err != nil {
			t.Fatal(err)
		}
		if got.GetStatus() != want {
			t.Fatalf("status %v, want %v", got.GetStatus(), want)
		}
		health.SetServing("svc", false) // the stream is still open: the next message comes from this
	}
}

// readTextChunk reads one flushed chunk of a text-mode response: base64
// that decodes on its own (so it ends in its padding, if any) to exactly
// one gRPC-Web frame.
func readTextChunk(t *testing.T, r *bufio.Reader) []byte {
	t.Helper()
	var raw []byte
	for {
		b, err := r.ReadByte()
		if err != nil {
			t.Fatalf("after %q: %v", raw, err)
		}
		raw = append(raw, b)
		if len(raw)%4 != 0 {
			continue
		}
		frame, err := base64.StdEncoding.DecodeString(string(raw))
		if err != nil {
			t.Fatalf("chunk %q is not base64 on its own: %v", raw, err)
		}
		if len(frame) >= 5 && len(frame) >= 5+int(binary.BigEndian.Uint32(frame[1:])) {
			if len(frame) != 5+int(binary.BigEndian.Uint32(frame[1:])) {
				t.Fatalf("chunk %q holds more than one frame", raw)
			}
			return frame
		}
		if strings.HasSuffix(string(raw), "=") {
			t.Fatalf("chunk %q ends before its frame", raw)
		}
	}
}

// textCall posts body as a text-mode request to path and returns the
// gRPC status and message, from the headers or from the trailer frame.
func textCall(t *testing.T, addr, path, body string) (status, message string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", grpcWebTextProto)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != grpcWebTextProto {
		t.Fatalf("HTTP %d, %s: %q", res.StatusCode, res.Header.Get("Content-Type"), raw)
	}
	if s := res.Header.Get("Grpc-Status"); s != "" {
		return s, res.Header.Get("Grpc-Message")
	}
	decoded, err := io.ReadAll(newBase64Reader(bytes.NewReader(raw)))
	if err != nil {
		t.Fatalf("response %q: %v", raw, err)
	}
	for len(decoded) >= 5 {
		n := int(binary.BigEndian.Uint32(decoded[1:]))
		if len(decoded)-5 < n {
			t.Fatalf("frame of %d bytes, %d left", n, len(decoded)-5)
		}
		if decoded[0]&0x80 != 0 {
			tr, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(append(decoded[5:5+n], "\r\n"...)))).ReadMIMEHeader()
			if err != nil {
				t.Fatalf("trailers %q: %v", decoded[5:5+n], err)
			}
			return tr.Get("Grpc-Status"), tr.Get("Grpc-Message")
		}
		decoded = decoded[5+n:]
	}
	t.Fatalf("no grpc-status in %q", raw)
	return "", ""
}

// TestGRPCWebTextMalformed: a text-mode Set whose body is not base64
// (anywhere in it, even after a whole valid message) is invalid_argument
// naming the problem, stores nothing, and the node serves on.
func TestGRPCWebTextMalformed(t *testing.T) {
	addr, g := serveGroup(t, Config{}, ServeOptions{})
	set := func(key string) string {
		msg, err := proto.Marshal(&distcachev1.SetRequest{Group: "g", Key: key, Value: []byte("v")})
		if err != nil {
			t.Fatal(err)
		}
		return base64.StdEncoding.EncodeToString(envelope(0, msg))
	}
	valid := set("m")
	for name, body := range map[string]string{
		"not base64":               "not base64 at all!",
		"one character":            "Q",
		"padding mid-quantum":      valid[:8] + "Q=Q=" + valid[8:],
		"padding first":            "=" + valid,
		"garbage after a message":  valid + "!!!!",
		"a lone pad after a chunk": valid + "=",
		"url alphabet":             strings.ReplaceAll(strings.ReplaceAll(valid, "+", "-"), "/", "_") + "-_-_",
	} {
		t.Run(name, func(t *testing.T) {
			status, message := textCall(t, addr, distcachev1connect.CacheServiceSetProcedure, body)
			if status != "3" || !strings.Contains(message, "base64") {
				t.Fatalf("grpc-status %s %q, want 3 (invalid_argument) naming base64", status, message)
			}
			if n := g.Stats().Items; n != 0 {
				t.Fatalf("the group holds %d items after a malformed Set", n)
			}
		})
	}
	if status, message := textCall(t, addr, distcachev1connect.CacheServiceSetProcedure, valid); status != "0" {
		t.Fatalf("a valid Set after the malformed ones: grpc-status %s %q", status, message)
	}
	if n := g.Stats().Items; n != 1 {
		t.Fatalf("the group holds %d items after one valid Set", n)
	}
}

// TestGRPCWebTextLimits: the body cap counts the base64 on the wire: a
// text-mode body over the node's read limit is refused before it is read
// whole, and the node serves on.
func TestGRPCWebTextLimits(t *testing.T) {
	const limit = 1 << 10
	addr, g := serveGroup(t, Config{MaxValueBytes: limit}, ServeOptions{})
	msg, err := proto.Marshal(&distcachev1.SetRequest{Group: "g", Key: "big", Value: make([]byte, ReadLimit(limit))})
	if err != nil {
		t.Fatal(err)
	}
	status, message := textCall(t, addr, distcachev1connect.CacheServiceSetProcedure, base64.StdEncoding.EncodeToString(envelope(0, msg)))
	if status != "8" {
		t.Fatalf("a body over the limit: grpc-status %s %q, want 8 (resource_exhausted)", status, message)
	}
	if n := g.Stats().Items; n != 0 {
		t.Fatalf("the group holds %d items after a refused Set", n)
	}
	c := distcachev1connect.NewCacheServiceClient(&http.Client{Transport: textMode{}}, "http://"+addr, connect.WithGRPCWeb())
	if _, err := c.Set(context.Background(), connect.NewRequest(&distcachev1.SetRequest{Group: "g", Key: "small", Value: []byte("v")})); err != nil {
		t.Fatalf("a Set after the refused one: %v", err)
	}
}

// TestGRPCWebTextCORS: a browser's preflight for a text-mode call (the
// headers Google's grpc-web runtime sends) is allowed, and the call's
// answer lets the page read the gRPC status.
func TestGRPCWebTextCORS(t *testing.T) {
	addr, _ := serveGroup(t, Config{}, ServeOptions{})
	const origin = "http://localhost:5173"
	pre, err := http.NewRequest(http.MethodOptions, "http://"+addr+distcachev1connect.CacheServiceGetProcedure, nil)
	if err != nil {
		t.Fatal(err)
	}
	pre.Header.Set("Origin", origin)
	pre.Header.Set("Access-Control-Request-Method", "POST")
	pre.Header.Set("Access-Control-Request-Headers", "content-type,x-grpc-web,x-user-agent")
	res, err := http.DefaultClient.Do(pre)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.Header.Get("Access-Control-Allow-Origin") != origin {
		t.Fatalf("preflight refused: %v", res.Header)
	}
	msg, err := proto.Marshal(&distcachev1.GetRequest{Group: "g", Key: "nope"})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+distcachev1connect.CacheServiceGetProcedure,
		strings.NewReader(base64.StdEncoding.EncodeToString(envelope(0, msg))))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Origin", origin)
	req.Header.Set("Content-Type", grpcWebText)
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	expose := strings.ToLower(res.Header.Get("Access-Control-Expose-Headers"))
	if res.Header.Get("Access-Control-Allow-Origin") != origin || !strings.Contains(expose, "grpc-status") {
		t.Fatalf("answer without CORS headers for the page: %v", res.Header)
	}
	if res.Header.Get("Content-Type") != grpcWebTextProto || res.Header.Get("Grpc-Status") != "5" {
		t.Fatalf("Get of a missing key: %s, grpc-status %q; want %s, 5", res.Header.Get("Content-Type"), res.Header.Get("Grpc-Status"), grpcWebTextProto)
	}
}

// flushRecorder records the body as it stood at each flush.
type flushRecorder struct {
	*httptest.ResponseRecorder
	flushed []string
}

func (f *flushRecorder) Flush() {
	f.flushed = append(f.flushed, f.Body.String())
	f.ResponseRecorder.Flush()
}

// TestTextResponseWriter: each flush sends the bytes written since the
// last one as padded base64, the rest is sent when the handler returns,
// http.ResponseController reaches the flush, and an answer that is not
// gRPC-Web passes as it is.
func TestTextResponseWriter(t *testing.T) {
	serve := func(h http.HandlerFunc) *flushRecorder {
		rec := &flushRecorder{ResponseRecorder: httptest.NewRecorder()}
		req := httptest.NewRequest(http.MethodPost, "/x", strings.NewReader("AAAA"))
		req.Header.Set("Content-Type", grpcWebText)
		withGRPCWebText(h).ServeHTTP(rec, req)
		return rec
	}
	rec := serve(func(w http.ResponseWriter, r *http.Request) {
		if ct := r.Header.Get("Content-Type"); ct != grpcWebProto {
			t.Errorf("the handler got content type %q", ct)
		}
		if b, err := io.ReadAll(r.Body); err != nil || !bytes.Equal(b, []byte{0, 0, 0}) {
			t.Errorf("the handler read %v, %v", b, err)
		}
		w.Header().Set("Content-Type", "application/grpc-web+proto")
		w.Header().Set("Content-Length", "8")
		_, _ = io.WriteString(w, "abcd")
		w.(http.Flusher).Flush()
		_, _ = io.WriteString(w, "e")
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Error(err)
		}
		_, _ = io.WriteString(w, "fgh")
	})
	if got := rec.Header().Get("Content-Type"); got != grpcWebTextProto {
		t.Errorf("content type %q", got)
	}
	if got := rec.Header().Get("Content-Length"); got != "" {
		t.Errorf("content length %q survived the encoding", got)
	}
	if want := []string{"YWJjZA==", "YWJjZA==ZQ=="}; fmt.Sprint(rec.flushed) != fmt.Sprint(want) {
		t.Errorf("flushed %q, want %q", rec.flushed, want)
	}
	if got, want := rec.Body.String(), "YWJjZA==ZQ==Zmdo"; got != want {
		t.Errorf("body %q, want %q", got, want)
	}

	rec = serve(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "unsupported", http.StatusUnsupportedMediaType)
	})
	if rec.Code != http.StatusUnsupportedMediaType || rec.Body.String() != "unsupported\n" {
		t.Errorf("a plain error became %d %q", rec.Code, rec.Body.String())
	}
}

// TestGRPCWebTextOnlyPOST: a text-mode content type on another method, or
// the binary mode, reaches the handler untouched.
func TestGRPCWebTextOnlyPOST(t *testing.T) {
	for _, tc := range []struct{ method, contentType string }{
		{http.MethodPut, grpcWebText},
		{http.MethodPost, grpcWebProto},
		{http.MethodPost, "application/grpc-web"},
	} {
		var got string
		h := withGRPCWebText(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			got = r.Header.Get("Content-Type") + " " + string(b)
		}))
		req := httptest.NewRequest(tc.method, "/x", strings.NewReader("QUJD"))
		req.Header.Set("Content-Type", tc.contentType)
		h.ServeHTTP(httptest.NewRecorder(), req)
		if want := tc.contentType + " QUJD"; got != want {
			t.Errorf("%s %s: the handler got %q, want %q", tc.method, tc.contentType, got, want)
		}
	}
}

// TestBase64Reader decodes padded chunks one after another, an unpadded
// end, and newlines, read whole or a byte at a time, and stops at the
// first malformed character with the bytes before it.
func TestBase64Reader(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		bad      bool
	}{
		{in: "", want: ""},
		{in: "QUJD", want: "ABC"},
		{in: "QQ==", want: "A"},
		{in: "QQ==QkI=QkNE", want: "ABBBCD"},
		{in: "QQ==QQ==QQ==", want: "AAA"},
		{in: "QUJDRA", want: "ABCD"},    // unpadded end
		{in: "QQ==QUI", want: "AAB"},    // a padded chunk, then an unpadded end
		{in: "QU\r\nJD\n", want: "ABC"}, // newlines are ignored
		{in: "QUJD!", want: "ABC", bad: true},
		{in: "QUJDR", want: "ABC", bad: true}, // one character left over
		{in: "QQ=", want: "", bad: true},
		{in: "QQ=A", want: "", bad: true},
		{in: "QUJD=", want: "ABC", bad: true},
		{in: "QUJD====", want: "ABC", bad: true},
		{in: "QUJD-_", want: "ABC", bad: true},
	} {
		for _, oneByte := range []bool{false, true} {
			var src io.Reader = strings.NewReader(tc.in)
			if oneByte {
				src = iotest.OneByteReader(src)
			}
			got, err := io.ReadAll(newBase64Reader(src))
			_, isBad := errors.AsType[*base64Error](err)
			if string(got) != tc.want || isBad != tc.bad || (err != nil && !isBad) {
				t.Errorf("%q (one byte at a time: %v): %q, %v; want %q, malformed %v", tc.in, oneByte, got, err, tc.want, tc.bad)
			}
		}
	}
}

// TestBase64ReaderLong decodes a long stream of padded chunks of every
// size across the reader's buffer, through iotest's reader checks, and
// passes on its source's error.
func TestBase64ReaderLong(t *testing.T) {
	data := make([]byte, 40_000)
	for i := range data {
		data[i] = byte(i * 7)
	}
	var enc strings.Builder
	for rest, n := data, 1; len(rest) > 0; n = n%4099 + 13 {
		n = min(n, len(rest))
		enc.WriteString(base64.StdEncoding.EncodeToString(rest[:n]))
		rest = rest[n:]
	}
	if err := iotest.TestReader(newBase64Reader(strings.NewReader(enc.String())), data); err != nil {
		t.Fatal(err)
	}
	if err := iotest.TestReader(newBase64Reader(iotest.HalfReader(strings.NewReader(enc.String()))), data); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	_, err := io.ReadAll(newBase64Reader(io.MultiReader(strings.NewReader("QUJD"), iotest.ErrReader(boom))))
	if !errors.Is(err, boom) {
		t.Fatalf("source error: %v, want boom", err)
	}
}

// FuzzBase64Reader: whatever the input, the decoder gives the same bytes
// and the same verdict however its reads are split; it agrees with
// encoding/base64 on every input that decodes there; and data encoded in
// padded chunks of any size comes back whole.
func FuzzBase64Reader(f *testing.F) {
	f.Add([]byte("QQ==QkI=QkNE"), uint8(0))
	f.Add([]byte("QUJD!"), uint8(1))
	f.Add([]byte("QQ=A\r\nQUJD"), uint8(2))
	f.Add([]byte{0, 0, 0, 5, 0xff, 0x80}, uint8(3))
	f.Fuzz(func(t *testing.T, in []byte, chunk uint8) {
		decode := func(r io.Reader) (string, bool) {
			out, err := io.ReadAll(newBase64Reader(r))
			if _, bad := errors.AsType[*base64Error](err); err != nil && !bad {
				t.Fatalf("%q: %v, not a base64Error", in, err)
			}
			return string(out), err == nil
		}
		whole, ok := decode(bytes.NewReader(in))
		if len(whole) > len(in)/4*3+2 {
			t.Fatalf("%q: %d bytes out of %d characters", in, len(whole), len(in))
		}
		for _, r := range []io.Reader{iotest.OneByteReader(bytes.NewReader(in)), iotest.HalfReader(bytes.NewReader(in))} {
			if got, gotOK := decode(r); got != whole || gotOK != ok {
				t.Fatalf("%q: split reads give %q, %v; whole %q, %v", in, got, gotOK, whole, ok)
			}
		}
		if std, err := base64.StdEncoding.DecodeString(string(in)); err == nil && (!ok || whole != string(std)) {
			t.Fatalf("%q: %q, %v; encoding/base64 decodes %q", in, whole, ok, std)
		}
		enc := encodeChunks(in, int(chunk%19))
		if got, ok := decode(iotest.HalfReader(strings.NewReader(enc))); !ok || got != string(in) {
			t.Fatalf("%q in chunks of %d (%q): %q, %v", in, chunk%19, enc, got, ok)
		}
	})
}
