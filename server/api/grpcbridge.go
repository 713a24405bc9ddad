package api

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/grpc/tap"
	"google.golang.org/protobuf/proto"
)

// The gRPC fast path: connections from gRPC-only clients are served by
// grpc-go's HTTP/2 transport instead of net/http's (see
// docs/decisions/0013-grpc-transport.md). grpc-go only frames the
// messages; every call still runs through the node's one http.Handler,
// the Connect handlers with their interceptors, limits and errors, by way
// of a bridge that turns each gRPC stream into an http.Request and the
// handler's answer back into gRPC messages and a status.

// envelopeCodec is the grpc-go codec of the bridge: a message is passed
// through as its bytes, already wrapped in the 5-byte gRPC envelope the
// Connect handler reads (flags 0: grpc-go has decompressed it).
type envelopeCodec struct{}

func (envelopeCodec) Marshal(v any) (mem.BufferSlice, error) {
	b, ok := v.(*[]byte)
	if !ok {
		return nil, fmt.Errorf("grpc bridge: cannot marshal %T", v)
	}
	return mem.BufferSlice{mem.SliceBuffer(*b)}, nil
}

func (envelopeCodec) Unmarshal(data mem.BufferSlice, v any) error {
	b, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("grpc bridge: cannot unmarshal into %T", v)
	}
	n := data.Len()
	buf := make([]byte, 5+n)
	binary.BigEndian.PutUint32(buf[1:5], uint32(n))
	data.CopyTo(buf[5:])
	*b = buf
	return nil
}

func (envelopeCodec) Name() string { return "proto" }

// grpcBridge serves every gRPC stream grpc-go accepts with h.
type grpcBridge struct {
	h http.Handler
	// bodyTimeout bounds the wait for the request message of calls not in
	// streamingProcedures, as net/http's read deadline does on the other
	// path.
	bodyTimeout time.Duration
}

// bodyDeadlineKey keys, in a call's context, the function that cancels
// the call when its request message is late.
type bodyDeadlineKey struct{}

var errBodyTimeout = errors.New("request message not received in time")

// tap is grpc-go's InTapHandle, run before a call's stream is made: for
// calls not in streamingProcedures it makes the stream's context
// cancellable, so that the wait for the request message (which grpc-go
// bounds by nothing but that context) can be cut off at bodyTimeout, on
// the call's own goroutine.
func (b *grpcBridge) tap(ctx context.Context, info *tap.Info) (context.Context, error) {
	if b.bodyTimeout <= 0 || streamingProcedures[info.FullMethodName] {
		return ctx, nil
	}
	ctx, cancel := context.WithCancelCause(ctx)
	return context.WithValue(ctx, bodyDeadlineKey{}, cancel), nil
}

// bridgedCalls counts the calls served on the gRPC fast path, in this
// process (tests read it to know which path served them).
var bridgedCalls atomic.Int64

// handle is grpc-go's UnknownServiceHandler: every method comes here.
func (b *grpcBridge) handle(_ any, ss grpc.ServerStream) error {
	bridgedCalls.Add(1)
	method, ok := grpc.MethodFromServerStream(ss)
	if !ok {
		return grpcstatus.Error(codes.Internal, "grpc bridge: no method")
	}
	ctx := ss.Context()
	body := &bridgeBody{ss: ss}
	if cancel, ok := ctx.Value(bodyDeadlineKey{}).(context.CancelCauseFunc); ok {
		// The request message must arrive within bodyTimeout (see tap).
		t := time.AfterFunc(b.bodyTimeout, func() { cancel(errBodyTimeout) })
		err := body.recv()
		t.Stop()
		if errors.Is(context.Cause(ctx), errBodyTimeout) {
			return grpcstatus.Errorf(codes.DeadlineExceeded, "request message not received within %v", b.bodyTimeout)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
	}
	header, host := requestHeader(ctx)
	r := &http.Request{
		Host:       host,
		Method:     http.MethodPost,
		URL:        &url.URL{Path: method},
		RequestURI: method,
		Proto:      "HTTP/2.0",
		ProtoMajor: 2,
		Header:     header,
		Body:       body,
		// The length is unknown: messages arrive one by one.
		ContentLength: -1,
	}
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		r.RemoteAddr = p.Addr.String()
	}
	w := &bridgeWriter{ss: ss, header: make(http.Header, 4)}
	h := b.h
	if nh, ok := h.(*nodeHandler); ok {
		if sh := nh.serviceFor(method); sh != nil {
			h = sh
		}
	}
	h.ServeHTTP(w, r.WithContext(ctx))
	if body.err != nil {
		// grpc-go refused the request message (too large, cancelled):
		// its status says why better than the handler's read error.
		if _, ok := grpcstatus.FromError(body.err); ok && !errors.Is(body.err, io.EOF) {
			return body.err
		}
	}
	return w.finish()
}

// requestHeader turns the call's metadata into the request's header, as
// net/http would have parsed it from the HTTP/2 HEADERS frame, and
// returns the :authority.
func requestHeader(ctx context.Context) (h http.Header, host string) {
	md, _ := metadata.FromIncomingContext(ctx)
	h = make(http.Header, len(md)+2)
	for k, vs := range md {
		switch {
		case k == ":authority" && len(vs) > 0:
			host = vs[0]
		case k == "" || k[0] == ':', k == "content-type", k == "grpc-accept-encoding", k == "grpc-encoding":
			// Pseudo-headers are not headers; grpc-go has decompressed
			// the request and the bridge answers uncompressed.
			continue
		case strings.HasSuffix(k, "-bin"):
			// grpc-go decodes binary metadata; the handler expects it
			// encoded, as on the wire.
			enc := make([]string, len(vs))
			for i, v := range vs {
				enc[i] = base64.RawStdEncoding.EncodeToString([]byte(v))
			}
			h[canonicalKey(k)] = enc
		default:
			h[canonicalKey(k)] = vs
		}
	}
	// The caller's deadline is not passed as grpc-timeout: the request's
	// context carries it already.
	h["Content-Type"] = grpcContentType
	h["Te"] = trailersTE
	return h, host
}

var (
	grpcContentType = []string{"application/grpc"}
	trailersTE      = []string{"trailers"}
)

// commonKeys are header names clients often send, in canonical form, so
// that turning metadata into a header does not allocate them per call.
var commonKeys = map[string]string{
	"user-agent": "User-Agent", "authorization": "Authorization", "traceparent": "Traceparent",
	"tracestate": "Tracestate", "baggage": "Baggage", "x-request-id": "X-Request-Id",
	"grpc-accept-encoding": "Grpc-Accept-Encoding", "accept-encoding": "Accept-Encoding",
	"distcache-cluster-secret": "Distcache-Cluster-Secret",
}

func canonicalKey(k string) string {
	if c, ok := commonKeys[k]; ok {
		return c
	}
	return http.CanonicalHeaderKey(k)
}

// bridgeBody is the request body: the stream's messages, each in its
// envelope, read as the handler asks for them.
type bridgeBody struct {
	ss  grpc.ServerStream
	buf []byte // the current envelope
	off int
	eof bool
	err error // the first error RecvMsg returned, other than io.EOF
}

// recv reads the next message into buf.
func (b *bridgeBody) recv() error {
	var msg []byte
	if err := b.ss.RecvMsg(&msg); err != nil {
		if errors.Is(err, io.EOF) {
			b.eof = true
			return io.EOF
		}
		b.err = err
		return err
	}
	b.buf, b.off = msg, 0
	return nil
}

func (b *bridgeBody) Read(p []byte) (int, error) {
	for b.off >= len(b.buf) {
		if b.eof {
			return 0, io.EOF
		}
		if b.err != nil {
			return 0, b.err
		}
		if err := b.recv(); err != nil {
			return 0, err
		}
	}
	n := copy(p, b.buf[b.off:])
	b.off += n
	return n, nil
}

func (b *bridgeBody) Close() error { return nil }

// bridgeWriter is the handler's ResponseWriter: it sends each enveloped
// message the handler writes as one gRPC message, and turns the gRPC
// status and trailers the handler sets into the call's status.
type bridgeWriter struct {
	ss         grpc.ServerStream
	header     http.Header
	status     int
	sentHeader bool
	pending    []byte // bytes of a message not yet complete
	err        error  // the first send error
}

func (w *bridgeWriter) Header() http.Header { return w.header }

func (w *bridgeWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

// Flush is a no-op: each message is sent as soon as it is complete, and
// grpc-go writes when it has nothing more queued.
func (w *bridgeWriter) Flush() {}

func (w *bridgeWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	if w.status != http.StatusOK {
		return len(p), nil // an HTTP error's body: finish maps the status
	}
	if w.err != nil {
		return 0, w.err
	}
	n := len(p)
	for len(p) > 0 {
		if len(w.pending) < 5 {
			k := min(5-len(w.pending), len(p))
			w.pending = append(w.pending, p[:k]...)
			p = p[k:]
			if len(w.pending) < 5 {
				break
			}
			size := binary.BigEndian.Uint32(w.pending[1:5])
			if w.pending[0] != 0 {
				w.err = fmt.Errorf("grpc bridge: unexpected envelope flags %#x", w.pending[0])
				return 0, w.err
			}
			msg := make([]byte, 5, 5+int(size))
			copy(msg, w.pending)
			w.pending = msg
		}
		size := int(binary.BigEndian.Uint32(w.pending[1:5]))
		k := min(5+size-len(w.pending), len(p))
		w.pending = append(w.pending, p[:k]...)
		p = p[k:]
		if len(w.pending) == 5+size {
			msg := w.pending[5:]
			w.pending = nil
			if err := w.send(msg); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

func (w *bridgeWriter) send(msg []byte) error {
	if !w.sentHeader {
		w.sentHeader = true
		if md := w.responseMetadata(false); len(md) > 0 {
			_ = w.ss.SetHeader(md)
		}
	}
	if err := w.ss.SendMsg(&msg); err != nil {
		w.err = err
		return err
	}
	return nil
}

// responseMetadata returns the handler's headers (trailers false) or
// trailers as gRPC metadata, leaving out what gRPC itself carries.
func (w *bridgeWriter) responseMetadata(trailers bool) metadata.MD {
	var md metadata.MD
	for k, vs := range w.header {
		if bridgeSkips[k] {
			continue
		}
		name := strings.ToLower(k)
		isTrailer := strings.HasPrefix(name, trailerPrefix)
		if isTrailer != trailers {
			continue
		}
		name = strings.TrimPrefix(name, trailerPrefix)
		switch name {
		case "content-type", "grpc-status", "grpc-message", "grpc-status-details-bin",
			"grpc-encoding", "grpc-accept-encoding", "trailer", "content-length", "date":
			continue
		}
		if md == nil {
			md = metadata.MD{}
		}
		if strings.HasSuffix(name, "-bin") {
			for _, v := range vs {
				if raw, err := decodeBinaryHeader(v); err == nil {
					md.Append(name, string(raw))
				}
			}
			continue
		}
		md.Append(name, vs...)
	}
	return md
}

// bridgeSkips are the header and trailer keys, as connect-go sets them,
// that gRPC itself carries: skipped without lowering them.
var bridgeSkips = map[string]bool{
	"Content-Type": true, "Grpc-Accept-Encoding": true, "Grpc-Encoding": true,
	"Grpc-Status": true, "Grpc-Message": true, "Grpc-Status-Details-Bin": true,
	http.TrailerPrefix + "Grpc-Status": true, http.TrailerPrefix + "Grpc-Message": true,
	http.TrailerPrefix + "Grpc-Status-Details-Bin": true,
}

// trailerPrefix is http.TrailerPrefix in lower case.
var trailerPrefix = strings.ToLower(http.TrailerPrefix)

// finish returns the call's status from what the handler wrote.
func (w *bridgeWriter) finish() error {
	if w.err != nil {
		return w.err
	}
	if w.status != 0 && w.status != http.StatusOK {
		return grpcstatus.Error(httpStatusCode(w.status), fmt.Sprintf("HTTP status %d", w.status))
	}
	if len(w.pending) > 0 {
		return grpcstatus.Error(codes.Internal, "grpc bridge: the handler left a message incomplete")
	}
	if !w.sentHeader {
		// A trailers-only answer: the headers go out with the status.
		if md := w.responseMetadata(false); len(md) > 0 {
			_ = w.ss.SetHeader(md)
		}
	}
	if md := w.responseMetadata(true); len(md) > 0 {
		w.ss.SetTrailer(md)
	}
	code := w.value("Grpc-Status")
	if code == "" {
		return grpcstatus.Error(codes.Internal, "grpc bridge: the handler set no grpc-status")
	}
	n, err := strconv.Atoi(code)
	if err != nil {
		return grpcstatus.Errorf(codes.Internal, "grpc bridge: grpc-status %q", code)
	}
	if n == 0 {
		return nil
	}
	if details := w.value("Grpc-Status-Details-Bin"); details != "" {
		raw, err := decodeBinaryHeader(details)
		var st status.Status
		if err == nil && proto.Unmarshal(raw, &st) == nil && st.GetCode() == int32(n) {
			return grpcstatus.ErrorProto(&st)
		}
	}
	msg, _ := url.PathUnescape(w.value("Grpc-Message"))
	return grpcstatus.Error(codes.Code(n), msg)
}

// value returns a gRPC status field the handler set (name in canonical
// form), as a trailer or, in a trailers-only answer, as a header. Connect
// sets these keys canonically, so they are looked up, not searched for.
func (w *bridgeWriter) value(name string) string {
	if vs := w.header[http.TrailerPrefix+name]; len(vs) > 0 {
		return vs[0]
	}
	if vs := w.header[name]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}

func decodeBinaryHeader(v string) ([]byte, error) {
	if len(v)%4 == 0 {
		return base64.StdEncoding.DecodeString(v)
	}
	return base64.RawStdEncoding.DecodeString(v)
}

// httpStatusCode maps an HTTP status the handler answered with to a gRPC
// code, as gRPC's HTTP-to-gRPC status mapping does.
func httpStatusCode(s int) codes.Code {
	switch s {
	case http.StatusBadRequest:
		return codes.Internal
	case http.StatusUnauthorized:
		return codes.Unauthenticated
	case http.StatusForbidden:
		return codes.PermissionDenied
	case http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusUnsupportedMediaType:
		return codes.Unimplemented
	case http.StatusRequestEntityTooLarge:
		return codes.ResourceExhausted
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return codes.Unavailable
	}
	return codes.Unknown
}
