package api

import (
	"errors"
	"net/http"
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

	"github.com/distcache/distcache/gen/distcache/v1/distcachev1connect"
	"github.com/distcache/distcache/server/peer"
	"github.com/distcache/distcache/server/ui"
)

// DefaultMaxValueBytes is the largest value a Set may carry when
// [Config.MaxValueBytes] is zero: 1 MiB.
const DefaultMaxValueBytes = 1 << 20

// requestOverhead is what a request may carry besides its value (group,
// key, ttl, framing); a body larger than MaxValueBytes plus this is refused
// before it is read whole.
const requestOverhead = 16 << 10

// compressMinBytes is the smallest response the node compresses when the
// client accepts gzip.
const compressMinBytes = 1 << 10

// DefaultCORSOrigins lets pages served from any local development port
// call the node. Production deployments name their origins.
var DefaultCORSOrigins = []string{"http://localhost:*", "http://127.0.0.1:*", "http://[::1]:*"}

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
	// TracerProvider, MeterProvider and Propagator feed the otelconnect
	// interceptor; nil means the OTel no-op implementations.
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
	// ClusterSecret admits PeerService calls that carry it; empty refuses
	// them all (a node alone has no peers).
	ClusterSecret string
	// Health is the node's health service (default: all serving).
	Health *Health
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
// Connect path, reflection, health, /metrics and the web console at
// /ui/, all behind CORS.
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
	otelOpts := []otelconnect.Option{otelconnect.WithTrustRemote()}
	if cfg.TracerProvider != nil {
		otelOpts = append(otelOpts, otelconnect.WithTracerProvider(cfg.TracerProvider))
	}
	if cfg.MeterProvider != nil {
		otelOpts = append(otelOpts, otelconnect.WithMeterProvider(cfg.MeterProvider))
	}
	if cfg.Propagator != nil {
		otelOpts = append(otelOpts, otelconnect.WithPropagator(cfg.Propagator))
	}
	otel, err := otelconnect.NewInterceptor(otelOpts...)
	if err != nil {
		return nil, err
	}
	// Every handler on the port reads at most readLimit bytes, after
	// decompression too, whatever its service.
	readLimit := cfg.MaxValueBytes + requestOverhead
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
		connect.WithInterceptors(otel, access{tokens: cfg.Tokens}, adminAuth{token: cfg.AdminToken, tokens: cfg.Tokens}, rateLimit, prevalidated{validate.NewInterceptor()}),
		limits,
	}
	mux := http.NewServeMux()
	cs := &cacheService{groups: cfg.Groups, maxValueBytes: cfg.MaxValueBytes, maxBatchKeys: cfg.MaxBatchKeys,
		pipeDepth: cfg.PipelineDepth, limiter: rateLimit, now: cfg.Now}
	mux.Handle(distcachev1connect.NewCacheServiceHandler(cs, opts...))
	if cfg.Cluster != nil {
		mux.Handle(distcachev1connect.NewClusterServiceHandler(&clusterService{cluster: cfg.Cluster}, opts...))
	}
	mux.Handle(distcachev1connect.NewAdminServiceHandler(&adminService{groups: cfg.Groups, plugins: cfg.Plugins}, opts...))
	mux.Handle(cfg.Health.handler(connect.WithInterceptors(otel), limits))
	reflector := grpcreflect.NewStaticReflector(
		distcachev1connect.CacheServiceName,
		distcachev1connect.AdminServiceName,
		distcachev1connect.ClusterServiceName,
		healthServiceName,
	)
	mux.Handle(grpcreflect.NewHandlerV1(reflector, limits))
	mux.Handle(grpcreflect.NewHandlerV1Alpha(reflector, limits))
	if cfg.Metrics != nil {
		mux.Handle("GET /metrics", cfg.Metrics)
	}
	mux.Handle("GET "+ui.Prefix, ui.Handler()) // the web console; the mux redirects /ui to /ui/
	mux.Handle("GET /{$}", http.RedirectHandler(ui.Prefix, http.StatusFound))
	// Node-to-node calls: only with the cluster secret, never from a
	// browser, and outside CORS. Not listed by reflection, which is for
	// clients.
	peerPath, peerHandler := distcachev1connect.NewPeerServiceHandler(peer.NewService(peer.ServiceConfig{
		Group: cs.group, CheckValue: cs.checkValue, FromCache: errorFromCache, Now: cfg.Now,
	}), connect.WithInterceptors(otel, peer.Interceptor(cfg.ClusterSecret), validate.NewInterceptor()), limits)
	// Connect limits each message but drains an oversized one to keep the
	// connection; capping the whole body refuses it without reading it.
	// A pipeline is one long request body: only its messages are
	// bounded.
	bounded := http.MaxBytesHandler(mux, readLimit)
	pipelined := withLazyFlush(mux)
	body := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == distcachev1connect.CacheServicePipelineProcedure {
			pipelined.ServeHTTP(w, r)
			return
		}
		bounded.ServeHTTP(w, r)
	})
	public := withCORS(body, cfg.CORSOrigins)
	root := http.NewServeMux()
	root.Handle(peerPath, http.MaxBytesHandler(peerHandler, readLimit))
	root.Handle("/", public)
	return root, nil
}

func withCORS(h http.Handler, origins []string) http.Handler {
	return cors.New(cors.Options{
		AllowedOrigins: origins,
		AllowedMethods: connectcors.AllowedMethods(),
		AllowedHeaders: append(connectcors.AllowedHeaders(), "Authorization"),
		ExposedHeaders: append(connectcors.ExposedHeaders(), "Retry-After"),
		MaxAge:         7200,
	}).Handler(h)
}
