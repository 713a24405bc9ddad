package api

import (
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"
	connectcors "connectrpc.com/cors"
	"connectrpc.com/grpcreflect"
	"connectrpc.com/otelconnect"
	"connectrpc.com/validate"
	"github.com/rs/cors"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/distcache/distcache/gen/distcache/v1/distcachev1connect"
	"github.com/distcache/distcache/server/peer"
	"github.com/distcache/distcache/server/ui"
)

// DefaultMaxValueBytes is the largest value a Set may carry when
// [Config.MaxValueBytes] is zero: 1 MiB.
const DefaultMaxValueBytes = 1 << 20

// requestOverhead is what a request may carry besides its value (group,
// key, ttl, framing); a body larger than the encoded MaxValueBytes plus
// this is refused before it is read whole.
const requestOverhead = 16 << 10

// ReadLimit is the most bytes one request message may hold, after
// decompression, on a node whose values are at most maxValueBytes (zero:
// [DefaultMaxValueBytes]). The limit is on the value, not its encoding: a
// JSON request carries the value in base64, a third larger, and so does
// a gRPC-Web text-mode body (whose cap counts the base64 on the wire), so
// the limit leaves room for that, and a value one byte over maxValueBytes
// reaches the handler, which refuses it with invalid_argument naming the
// field, in every protocol and codec.
func ReadLimit(maxValueBytes int64) int64 {
	if maxValueBytes <= 0 {
		maxValueBytes = DefaultMaxValueBytes
	}
	return base64Len(maxValueBytes+1) + requestOverhead
}

// base64Len is the length of n bytes in padded base64.
func base64Len(n int64) int64 { return (n + 2) / 3 * 4 }

// compressMinBytes is the smallest response the node compresses when the
// client accepts gzip.
const compressMinBytes = 1 << 10

// DefaultCORSOrigins lets pages served from any local development port
// call the node. Production deployments name their origins.
var DefaultCORSOrigins = []string{"http://localhost:*", "http://127.0.0.1:*", "http://[::1]:*"}

// DefaultCORSHeaders are the request headers, beyond the Connect, gRPC-Web
// and Authorization headers, that browsers may always send: the trace
// context browser OpenTelemetry adds, and a request id.
var DefaultCORSHeaders = []string{"Traceparent", "Tracestate", "Baggage", "X-Request-Id"}

// Config is what [NewHandler] needs. Groups is required; every other field
// has a working default.
type Config struct {
	// Groups are the groups the node serves.
	Groups Groups
	// MaxValueBytes is the largest value a Set may carry (default
	// [DefaultMaxValueBytes]).
	MaxValueBytes int64
	// AdminToken guards the mutating admin calls; empty refuses them all
	// (unless Tokens has admin tokens).
	AdminToken string
	// Tokens, when it has any, guards every public procedure: each needs
	// a token with its scope (see [Scope]). The zero value leaves the data
	// plane open.
	Tokens Tokens
	// CORSOrigins are the browser origins allowed to call the API; nil
	// means [DefaultCORSOrigins]. "*" allows every origin.
	CORSOrigins []string
	// CORSHeaders are request headers browsers may send besides the
	// protocols' own and [DefaultCORSHeaders].
	CORSHeaders []string
	// MeterProvider records every call's duration (rpc.server.call.duration);
	// TracerProvider and Propagator make and link each call's span with
	// otelconnect, only when TracerProvider is set and not a no-op. nil
	// means the OTel no-op implementations.
	TracerProvider trace.TracerProvider
	MeterProvider  metric.MeterProvider
	Propagator     propagation.TextMapPropagator
	// Metrics, when set, is served at /metrics.
	Metrics http.Handler
	// Plugins, when set, backs ListPlugins and SetGroupPolicy.
	Plugins Plugins
	// Cluster is the node's view of the cluster (required for the
	// ClusterService; nil serves a node alone).
	Cluster Cluster
	// Members, when set with Cluster, reaches the other members' admin
	// service, for SetGroupPolicy's all_members.
	Members MemberAdmin
	// Logger receives the admin calls' records (policy switches); nil
	// discards them.
	Logger *slog.Logger
	// ClusterSecret admits PeerService calls that carry it; empty refuses
	// them all (a node alone has no peers).
	ClusterSecret string
	// Health is the node's health service (default: all serving).
	Health *Health
	// Ready, if set, says what keeps the node from being ready, for
	// GET /readyz (see probes).
	Ready ReadyFunc
	// Now is the clock for remaining ttls (default [time.Now]).
	Now func() time.Time
	// RateLimits maps a group's name to the calls each client may make to
	// its Get, Set and Delete (a batch counts one call per key, a
	// pipeline each of its calls); a group not in it (the default: all)
	// is unlimited.
	RateLimits map[string]RateLimit
	// MaxBatchKeys is the most keys a GetMany, SetMany or DeleteMany may
	// carry (default [DefaultMaxBatchKeys]).
	MaxBatchKeys int
	// PipelineDepth is how many calls of one Pipeline stream run at once
	// (default [DefaultPipelineDepth]).
	PipelineDepth int
}

// NewHandler returns the node's HTTP handler: every service on its
// Connect path (gRPC, gRPC-Web in binary and text mode, Connect),
// reflection, health, /metrics and the web console at /ui/, all behind
// CORS.
func NewHandler(cfg Config) (http.Handler, error) {
	if cfg.Groups == nil {
		return nil, errors.New("api: Config.Groups is required")
	}
	if cfg.MaxValueBytes <= 0 {
		cfg.MaxValueBytes = DefaultMaxValueBytes
	}
	if cfg.CORSOrigins == nil {
		cfg.CORSOrigins = DefaultCORSOrigins
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxBatchKeys <= 0 {
		cfg.MaxBatchKeys = DefaultMaxBatchKeys
	}
	if cfg.PipelineDepth <= 0 {
		cfg.PipelineDepth = DefaultPipelineDepth
	}
	if cfg.Health == nil {
		cfg.Health = NewHealth(distcachev1connect.CacheServiceName, distcachev1connect.AdminServiceName)
	}
	// Metrics: rpcMetrics, always; spans: otelconnect, only when a tracer
	// records them (its per-call state costs more than the cache's work).
	rpcm, err := newRPCMetrics(cfg.MeterProvider)
	if err != nil {
		return nil, err
	}
	telemetry := []connect.Interceptor{rpcm}
	if tracing(cfg.TracerProvider) {
		otelOpts := []otelconnect.Option{otelconnect.WithTrustRemote(), otelconnect.WithoutMetrics(),
			otelconnect.WithTracerProvider(cfg.TracerProvider)}
		if cfg.Propagator != nil {
			otelOpts = append(otelOpts, otelconnect.WithPropagator(cfg.Propagator))
		}
		otel, err := otelconnect.NewInterceptor(otelOpts...)
		if err != nil {
			return nil, err
		}
		telemetry = append([]connect.Interceptor{otel}, telemetry...)
	}
	// Every handler on the port reads at most readLimit bytes, after
	// decompression too, whatever its service.
	readLimit := ReadLimit(cfg.MaxValueBytes)
	limits := connect.WithHandlerOptions(
		connect.WithReadMaxBytes(int(readLimit)),
		boundedGzip(readLimit),
		// Compressing small answers costs more CPU than it saves bytes.
		connect.WithCompressMinBytes(compressMinBytes),
	)
	rateLimit, err := newRateLimiter(cfg.RateLimits, cfg.Tokens.Enabled(), cfg.MeterProvider)
	if err != nil {
		return nil, err
	}
	opts := []connect.HandlerOption{
		connect.WithInterceptors(slices.Concat(telemetry, []connect.Interceptor{
			access{tokens: cfg.Tokens}, adminAuth{token: cfg.AdminToken, tokens: cfg.Tokens}, rateLimit,
			prevalidated{validate.NewInterceptor()},
		})...),
		limits,
	}
	mux := http.NewServeMux()
	// services are the Connect handlers by path prefix, for the gRPC
	// fast path, which needs neither CORS nor the body cap (grpc-go caps
	// each message).
	services := map[string]http.Handler{}
	handle := func(path string, h http.Handler) {
		mux.Handle(path, h)
		services[path] = h
	}
	cs := &cacheService{groups: cfg.Groups, maxValueBytes: cfg.MaxValueBytes, maxBatchKeys: cfg.MaxBatchKeys,
		pipeDepth: cfg.PipelineDepth, limiter: rateLimit, now: cfg.Now}
	handle(distcachev1connect.NewCacheServiceHandler(cs, opts...))
	if cfg.Cluster != nil {
		handle(distcachev1connect.NewClusterServiceHandler(&clusterService{cluster: cfg.Cluster}, opts...))
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	admin := &adminService{groups: cfg.Groups, plugins: cfg.Plugins, cluster: cfg.Cluster, members: cfg.Members,
		auth: adminAuth{token: cfg.AdminToken, tokens: cfg.Tokens}, log: cfg.Logger}
	handle(distcachev1connect.NewAdminServiceHandler(admin, opts...))
	handle(cfg.Health.handler(connect.WithInterceptors(telemetry...), limits))
	reflector := grpcreflect.NewStaticReflector(
		distcachev1connect.CacheServiceName,
		distcachev1connect.AdminServiceName,
		distcachev1connect.ClusterServiceName,
		healthServiceName,
	)
	handle(grpcreflect.NewHandlerV1(reflector, limits))
	handle(grpcreflect.NewHandlerV1Alpha(reflector, limits))
	if cfg.Metrics != nil {
		mux.Handle("GET /metrics", cfg.Metrics)
	}
	probes(mux, cfg.Health, cfg.Ready)
	(&kvHandler{cache: services["/"+distcachev1connect.CacheServiceName+"/"], maxValueBytes: cfg.MaxValueBytes}).register(mux)
	mux.Handle("GET "+ui.Prefix, ui.Handler()) // the web console; the mux redirects /ui to /ui/
	mux.Handle("GET /{$}", http.RedirectHandler(ui.Prefix, http.StatusFound))
	// Node-to-node calls: only with the cluster secret, never from a
	// browser, and outside CORS. Not listed by reflection, which is for
	// clients.
	peerPath, peerHandler := distcachev1connect.NewPeerServiceHandler(peer.NewService(peer.ServiceConfig{
		Group: cs.group, CheckValue: cs.checkValue, FromCache: errorFromCache, Now: cfg.Now,
	}), connect.WithInterceptors(slices.Concat(telemetry, []connect.Interceptor{
		peer.Interceptor(cfg.ClusterSecret), validate.NewInterceptor(),
	})...), limits)
	// Connect limits each message but drains an oversized one to keep the
	// connection; capping the whole body refuses it without reading it.
	// A pipeline is one long request body: only its messages are
	// bounded.
	// gRPC-Web's text mode is decoded inside the cap, so the cap counts
	// the base64 on the wire: ReadLimit leaves room for its growth.
	bounded := http.MaxBytesHandler(withGRPCWebText(mux), readLimit)
	pipelined := withGRPCWebText(withLazyFlush(mux))
	body := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == distcachev1connect.CacheServicePipelineProcedure {
			pipelined.ServeHTTP(w, r)
			return
		}
		bounded.ServeHTTP(w, r)
	})
	public := withCORS(body, cfg.CORSOrigins, cfg.CORSHeaders)
	root := http.NewServeMux()
	root.Handle(peerPath, http.MaxBytesHandler(peerHandler, readLimit))
	root.Handle("/", public)
	services[peerPath] = peerHandler
	return &nodeHandler{Handler: root, services: services}, nil
}

// nodeHandler is the node's handler, which also finds a call's Connect
// handler by its gRPC method name, for the gRPC fast path.
type nodeHandler struct {
	http.Handler
	services map[string]http.Handler // by path prefix, "/pkg.Service/"
}

// serviceFor returns the Connect handler of a method "/pkg.Service/Name",
// or nil.
func (h *nodeHandler) serviceFor(method string) http.Handler {
	i := strings.LastIndexByte(method, '/')
	if i < 0 {
		return nil
	}
	return h.services[method[:i+1]]
}

// tracing reports whether tp records spans: it is set and not a no-op.
func tracing(tp trace.TracerProvider) bool {
	if tp == nil {
		return false
	}
	_, noop := tp.(tracenoop.TracerProvider)
	return !noop
}

func withCORS(h http.Handler, origins, headers []string) http.Handler {
	return cors.New(cors.Options{
		AllowedOrigins: origins,
		AllowedMethods: connectcors.AllowedMethods(),
		AllowedHeaders: slices.Concat(connectcors.AllowedHeaders(), []string{"Authorization"}, DefaultCORSHeaders, headers),
		ExposedHeaders: append(connectcors.ExposedHeaders(), "Retry-After", "ETag"),
		MaxAge:         7200,
	}).Handler(h)
}

// ServiceHandler returns the Connect handler that serves procedure
// ("/pkg.Service/Method") inside h, a handler from [NewHandler], so that
// an in-process caller (the Redis protocol) skips the routing, CORS and
// body cap in front of it; the handler's own read limit, interceptors
// and errors still apply. For any other h, or a procedure h does not
// serve, it returns h.
func ServiceHandler(h http.Handler, procedure string) http.Handler {
	if nh, ok := h.(*nodeHandler); ok {
		if s := nh.serviceFor(procedure); s != nil {
			return s
		}
	}
	return h
}
