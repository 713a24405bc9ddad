package api

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"golang.org/x/net/http2"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding/gzip"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	distcachev1 "github.com/distcache/distcache/gen/distcache/v1"
	"github.com/distcache/distcache/gen/distcache/v1/distcachev1connect"
	"github.com/distcache/distcache/internal/testcert"
)

// grpcGoConn dials addr with the official grpc-go client, whose
// connections the node serves with grpc-go's transport.
func grpcGoConn(t *testing.T, addr string, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient("passthrough:///"+addr, append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func invokeGet(ctx context.Context, conn *grpc.ClientConn, group, key string, opts ...grpc.CallOption) (*distcachev1.GetResponse, error) {
	res := new(distcachev1.GetResponse)
	err := conn.Invoke(ctx, distcachev1connect.CacheServiceGetProcedure, &distcachev1.GetRequest{Group: group, Key: key}, res, opts...)
	return res, err
}

// TestGRPCGoClientOnFastPath drives every kind of call with the official
// grpc-go client: unary calls with values and errors (with details),
// compression, metadata, a server stream and a bidirectional stream
// (reflection); and other protocols keep working beside it.
func TestGRPCGoClientOnFastPath(t *testing.T) {
	addr := serveForTest(t, ServeOptions{MaxMessageBytes: int(ReadLimit(0))})
	conn := grpcGoConn(t, addr)
	ctx := t.Context()
	bridged := bridgedCalls.Load()
	defer func() {
		if bridgedCalls.Load() == bridged {
			t.Error("no call took the gRPC fast path")
		}
	}()

	value := bytes.Repeat([]byte("v"), 100)
	if err := conn.Invoke(ctx, distcachev1connect.CacheServiceSetProcedure,
		&distcachev1.SetRequest{Group: "g", Key: "k", Value: value}, new(distcachev1.SetResponse)); err != nil {
		t.Fatal(err)
	}
	var header, trailer metadata.MD
	res, err := invokeGet(ctx, conn, "g", "k", grpc.Header(&header), grpc.Trailer(&trailer))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(res.GetValue(), value) {
		t.Fatalf("Get = %q, want %q", res.GetValue(), value)
	}

	// Compressed both ways.
	big := bytes.Repeat([]byte("z"), 64<<10)
	if err := conn.Invoke(ctx, distcachev1connect.CacheServiceSetProcedure,
		&distcachev1.SetRequest{Group: "g", Key: "big", Value: big}, new(distcachev1.SetResponse), grpc.UseCompressor(gzip.Name)); err != nil {
		t.Fatal(err)
	}
	if res, err := invokeGet(ctx, conn, "g", "big", grpc.UseCompressor(gzip.Name)); err != nil || !bytes.Equal(res.GetValue(), big) {
		t.Fatalf("compressed Get: %d bytes, %v", len(res.GetValue()), err)
	}

	// Errors keep their code, message and details.
	_, err = invokeGet(ctx, conn, "g", "missing")
	if status.Code(err) != codes.NotFound {
		t.Fatalf("missing key: %v, want NotFound", err)
	}
	_, err = invokeGet(ctx, conn, "g", "")
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), "key") {
		t.Fatalf("empty key: %v, want InvalidArgument naming the key", err)
	}
	if len(st.Details()) == 0 {
		t.Fatalf("empty key: no error details in %v", st.Proto())
	}
	_, err = invokeGet(ctx, conn, "nosuchgroup", "k")
	if st := status.Convert(err); st.Code() != codes.NotFound || !hasErrorInfo(st) && len(st.Details()) == 0 && st.Message() == "" {
		t.Fatalf("unknown group: %v", err)
	}

	// An unknown method is unimplemented.
	err = conn.Invoke(ctx, "/distcache.v1.CacheService/Nope", &distcachev1.GetRequest{}, new(distcachev1.GetResponse))
	if status.Code(err) != codes.Unimplemented {
		t.Fatalf("unknown method: %v, want Unimplemented", err)
	}

	// A server stream: Health/Watch's first answer.
	wctx, cancel := context.WithCancel(ctx)
	watch, err := healthpb.NewHealthClient(conn).Watch(wctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	first, err := watch.Recv()
	if err != nil || first.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("Watch: %v, %v", first, err)
	}
	cancel()

	// A bidirectional stream: reflection lists the services.
	refl, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := refl.Send(&reflectionpb.ServerReflectionRequest{
			MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{},
		}); err != nil {
			t.Fatal(err)
		}
		got, err := refl.Recv()
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, s := range got.GetListServicesResponse().GetService() {
			names = append(names, s.GetName())
		}
		if !strings.Contains(strings.Join(names, ","), distcachev1connect.CacheServiceName) {
			t.Fatalf("reflection lists %v", names)
		}
	}
	if err := refl.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := refl.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("reflection after CloseSend: %v, want EOF", err)
	}

	// Connect and gRPC-Web on the same port, over h2c and HTTP/1.1.
	for name, c := range map[string]distcachev1connect.CacheServiceClient{
		"connect h2c": distcachev1connect.NewCacheServiceClient(&http.Client{Transport: &http.Transport{Protocols: h2cOnly()}}, "http://"+addr),
		"grpc-web":    distcachev1connect.NewCacheServiceClient(http.DefaultClient, "http://"+addr, connect.WithGRPCWeb()),
		"connect-go grpc": distcachev1connect.NewCacheServiceClient(&http.Client{Transport: &http.Transport{Protocols: h2cOnly()}},
			"http://"+addr, connect.WithGRPC()),
	} {
		before := bridgedCalls.Load()
		got, err := c.Get(ctx, connect.NewRequest(&distcachev1.GetRequest{Group: "g", Key: "k"}))
		if err != nil || !bytes.Equal(got.Msg.GetValue(), value) {
			t.Fatalf("%s: %v", name, err)
		}
		if bridgedCalls.Load() != before {
			t.Errorf("%s: served on the gRPC fast path, which is for gRPC-only clients", name)
		}
	}
}

func hasErrorInfo(st *status.Status) bool {
	for _, d := range st.Details() {
		if _, ok := d.(*errdetails.ErrorInfo); ok {
			return true
		}
	}
	return false
}

// TestGRPCGoLimits: a message over the limit is refused with
// ResourceExhausted, a request that never sends its message ends with
// DeadlineExceeded after the body timeout, an admin call without the
// token is refused and with it passes; the node serves on.
func TestGRPCGoLimits(t *testing.T) {
	addr, _ := serveGroup(t, Config{AdminToken: "secret"}, ServeOptions{
		MaxMessageBytes: int(ReadLimit(1 << 10)), BodyTimeout: 2 * time.Second,
	})
	conn := grpcGoConn(t, addr)
	ctx := t.Context()

	err := conn.Invoke(ctx, distcachev1connect.CacheServiceSetProcedure,
		&distcachev1.SetRequest{Group: "g", Key: "k", Value: make([]byte, 64<<10)}, new(distcachev1.SetResponse))
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("oversized Set: %v, want ResourceExhausted", err)
	}
	// A gzip bomb: small on the wire, over the limit inflated.
	err = conn.Invoke(ctx, distcachev1connect.CacheServiceSetProcedure,
		&distcachev1.SetRequest{Group: "g", Key: "k", Value: make([]byte, 1<<20)}, new(distcachev1.SetResponse),
		grpc.UseCompressor(gzip.Name))
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("compressed oversized Set: %v, want ResourceExhausted", err)
	}

	// Headers, then nothing: the body timeout ends the call.
	stream, err := conn.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}, distcachev1connect.CacheServiceGetProcedure)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Header(); err != nil && status.Code(err) != codes.DeadlineExceeded {
		t.Fatal(err)
	}
	// The node cuts the stream off (RST_STREAM CANCEL, which grpc-go
	// reports as Canceled: this client cancelled nothing).
	if err := stream.RecvMsg(new(distcachev1.GetResponse)); status.Code(err) != codes.Canceled && status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("silent request: %v, want it cut off", err)
	}

	purge := &distcachev1.PurgeRequest{Group: "g"}
	err = conn.Invoke(ctx, distcachev1connect.AdminServicePurgeProcedure, purge, new(distcachev1.PurgeResponse))
	if status.Code(err) != codes.Unauthenticated {
		t.Fatalf("Purge without the token: %v, want Unauthenticated", err)
	}
	err = conn.Invoke(metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer secret"),
		distcachev1connect.AdminServicePurgeProcedure, purge, new(distcachev1.PurgeResponse))
	if err != nil {
		t.Fatalf("Purge with the token: %v", err)
	}
	if _, err := invokeGet(ctx, conn, "g", "missing"); status.Code(err) != codes.NotFound {
		t.Fatalf("after the limits: %v", err)
	}
}

// TestSniffRoutes: the first request of a connection decides its server.
func TestSniffRoutes(t *testing.T) {
	for _, c := range []struct {
		name    string
		proto   func(*http.Request)
		ua, ct  string
		want    sniffResult
		wantTLS bool
	}{
		{name: "grpc-go", ua: "grpc-go/1.85.0", ct: "application/grpc", want: toGRPC},
		{name: "grpc-java", ua: "grpc-java-netty/1.70.0", ct: "application/grpc+proto", want: toGRPC},
		{name: "python", ua: "grpc-python/1.70.0 grpc-c/45.0.0 (linux; chttp2)", ct: "application/grpc", want: toGRPC},
		{name: "distcache marker", ua: "distcache-grpc-only grpc-go-connect/1.21.1", ct: "application/grpc", want: toGRPC},
		{name: "connect-go grpc", ua: "grpc-go-connect/1.21.1 (go1.26)", ct: "application/grpc", want: toHTTP},
		{name: "grpc json", ua: "grpc-go/1.85.0", ct: "application/grpc+json", want: toHTTP},
		{name: "grpc-web", ua: "grpc-go/1.85.0", ct: "application/grpc-web+proto", want: toHTTP},
		{name: "connect", ua: "connect-go/1.21.1", ct: "application/proto", want: toHTTP},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := isGRPCOnlyClient(c.ct, c.ua); (got && c.want != toGRPC) || (!got && c.want != toHTTP) {
				t.Fatalf("isGRPCOnlyClient(%q, %q) = %v", c.ct, c.ua, got)
			}
		})
	}

	// A short HTTP/1.1 request is routed without waiting for more bytes.
	client, server := net.Pipe()
	defer client.Close()
	defer server.Close()
	go func() { _, _ = client.Write([]byte("GET / HTTP/1.0\r\n\r\n")) }()
	_ = server.SetReadDeadline(time.Now().Add(30 * time.Second))
	read, route, sent := sniff(server, 1<<16)
	if route != toHTTP || sent || string(read) != "GET / HTTP/1.0\r\n\r\n" {
		t.Fatalf("HTTP/1.0: route %v, settings sent %v, read %q", route, sent, read)
	}
}

// BenchmarkGetTransports compares one Get through the whole stack (client,
// HTTP/2, handler, cache) on each server path: the official grpc-go
// client on the grpc-go transport, and connect-go's gRPC client on
// net/http's. allocs/op counts both sides, client and server.
func BenchmarkGetTransports(b *testing.B) {
	addr, g := serveGroup(b, Config{}, ServeOptions{})
	ctx := b.Context()
	if err := g.Set(ctx, "k", bytes.Repeat([]byte("v"), 100), 0); err != nil {
		b.Fatal(err)
	}

	b.Run("grpc-go client, grpc-go transport", func(b *testing.B) {
		conn, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := invokeGet(ctx, conn, "g", "k"); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("connect-go grpc client, net/http", func(b *testing.B) {
		tr := &http.Transport{Protocols: h2cOnly()}
		defer tr.CloseIdleConnections()
		c := distcachev1connect.NewCacheServiceClient(&http.Client{Transport: tr}, "http://"+addr, connect.WithGRPC())
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := c.Get(ctx, connect.NewRequest(&distcachev1.GetRequest{Group: "g", Key: "k"})); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// settingsAck is an HTTP/2 SETTINGS frame with the ACK flag.
var settingsAck = []byte{0, 0, 0, byte(http2.FrameSettings), byte(http2.FlagSettingsAck), 0, 0, 0, 0}

// filterAll runs b through a settingsAckFilter, handing it chunk bytes at
// a time.
func filterAll(t testing.TB, b []byte, chunk int) []byte {
	src := bytes.NewReader(b)
	f := &settingsAckFilter{
		src: func(p []byte) (int, error) {
			return src.Read(p[:min(len(p), max(chunk, 1))])
		},
		preface: len(http2.ClientPreface),
	}
	out, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSettingsAckFilter: only the first SETTINGS acknowledgement after the
// preface is removed, wherever the reads split the frames.
func TestSettingsAckFilter(t *testing.T) {
	var stream bytes.Buffer
	stream.WriteString(http2.ClientPreface)
	fr := http2.NewFramer(&stream, nil)
	_ = fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 20})
	_ = fr.WriteWindowUpdate(0, 1<<16)
	before := stream.Len()
	_ = fr.WriteSettingsAck()               // the sniffer's: dropped
	_ = fr.WriteData(1, false, settingsAck) // an ACK's bytes inside a payload: kept
	_ = fr.WriteSettingsAck()               // net/http's: kept
	_ = fr.WriteData(1, true, []byte("end"))
	want := append(append([]byte(nil), stream.Bytes()[:before]...), stream.Bytes()[before+9:]...)
	for _, chunk := range []int{1, 2, 5, 9, 10, 4096} {
		if got := filterAll(t, stream.Bytes(), chunk); !bytes.Equal(got, want) {
			t.Fatalf("chunks of %d: got %d bytes, want %d", chunk, len(got), len(want))
		}
	}
}

// FuzzSettingsAckFilter: whatever the client sends and however it is
// split, the filter passes it whole or less exactly one empty SETTINGS
// acknowledgement, the same for every split.
func FuzzSettingsAckFilter(f *testing.F) {
	f.Add(append([]byte(http2.ClientPreface), settingsAck...), 3)
	f.Add(append([]byte(http2.ClientPreface), 0, 0, 1, 0, 0, 0, 0, 0, 1, 'x'), 1)
	f.Fuzz(func(t *testing.T, body []byte, chunk int) {
		in := append([]byte(http2.ClientPreface), body...)
		whole := filterAll(t, in, len(in))
		split := filterAll(t, in, chunk%17)
		if !bytes.Equal(whole, split) {
			t.Fatalf("output depends on the reads: %d vs %d bytes", len(whole), len(split))
		}
		switch len(in) - len(whole) {
		case 0:
		case 9:
			// One ACK gone: putting it back somewhere gives the input.
			found := false
			for i := len(http2.ClientPreface); i+9 <= len(in) && !found; i++ {
				found = bytes.Equal(in[i:i+9], settingsAck) && bytes.Equal(append(append([]byte(nil), in[:i]...), in[i+9:]...), whole)
			}
			if !found {
				t.Fatal("removed 9 bytes that are not an empty SETTINGS ACK")
			}
		default:
			t.Fatalf("removed %d bytes", len(in)-len(whole))
		}
	})
}

// TestTLSServesEveryClient: over TLS, the grpc-go client (its own
// transport), connect-go over HTTP/2 and over HTTP/1.1, all on one port.
func TestTLSServesEveryClient(t *testing.T) {
	certFile, keyFile, pool := testcert.SelfSigned(t, t.TempDir())
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	addr, g := serveGroup(t, Config{}, ServeOptions{TLS: &tls.Config{Certificates: []tls.Certificate{pair}}})
	ctx := t.Context()
	if err := g.Set(ctx, "k", []byte("over tls"), 0); err != nil {
		t.Fatal(err)
	}
	conn := grpcGoConn(t, addr, grpc.WithTransportCredentials(credentials.NewClientTLSFromCert(pool, "")))
	if res, err := invokeGet(ctx, conn, "g", "k"); err != nil || string(res.GetValue()) != "over tls" {
		t.Fatalf("grpc-go over TLS: %v", err)
	}
	h2 := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
	h1 := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}
	for name, c := range map[string]distcachev1connect.CacheServiceClient{
		"connect-go grpc, h2":    distcachev1connect.NewCacheServiceClient(&http.Client{Transport: h2}, "https://"+addr, connect.WithGRPC()),
		"connect, h2":            distcachev1connect.NewCacheServiceClient(&http.Client{Transport: h2}, "https://"+addr),
		"connect json, http/1.1": distcachev1connect.NewCacheServiceClient(&http.Client{Transport: h1}, "https://"+addr, connect.WithProtoJSON()),
		"grpc-web, http/1.1":     distcachev1connect.NewCacheServiceClient(&http.Client{Transport: h1}, "https://"+addr, connect.WithGRPCWeb()),
	} {
		res, err := c.Get(ctx, connect.NewRequest(&distcachev1.GetRequest{Group: "g", Key: "k"}))
		if err != nil || string(res.Msg.GetValue()) != "over tls" {
			t.Fatalf("%s: %v", name, err)
		}
	}
	// Plain HTTP on the TLS port is refused, and the port serves on.
	plain := distcachev1connect.NewCacheServiceClient(http.DefaultClient, "http://"+addr)
	if _, err := plain.Get(ctx, connect.NewRequest(&distcachev1.GetRequest{Group: "g", Key: "k"})); err == nil {
		t.Fatal("plain HTTP answered on the TLS port")
	}
	if _, err := invokeGet(ctx, conn, "g", "k"); err != nil {
		t.Fatal(err)
	}
}
