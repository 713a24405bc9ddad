// Command server is the distcache binary. Without a command it runs one
// distcache node:
//
//	go run ./server
//
// serves group "default", backed by the embedded SQLite database
// ./distcache.db, on :8080. Every flag can also be set by an environment
// variable: --max-value-bytes by DISTCACHE_MAX_VALUE_BYTES, and so on; a
// flag on the command line wins. Run with -h for the list.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"golang.org/x/net/http/httpguts"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/distcache/distcache/internal/cli"
	"github.com/distcache/distcache/server/api"
	"github.com/distcache/distcache/server/node"
)

// maxValueLimit is the largest --max-value-bytes: the API's own limit.
const maxValueLimit = 64 << 20

func main() {
	// Ctrl-C stops at once; SIGTERM, what orchestrators send, drains first
	// (--shutdown-delay, see serve).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if args, ok := cli.Command(os.Args[1:]); ok {
		// distcache get KEY, distcache set KEY VALUE, ...: the client.
		os.Exit(cli.Main(ctx, args, cli.StdIO()))
	}
	signal.Notify(terms, syscall.SIGTERM)
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// terms receives SIGTERM.
var terms = make(chan os.Signal, 1)

type flags struct {
	addr, db, config, plugins string
	pluginCache               string
	builtinPlugins            bool
	pluginMemoryMiB           int
	policyMemoryMiB           int
	pluginMaxBytes            int64
	pluginCacheMaxBytes       int64
	maxValueBytes             int64
	maxBatchKeys              int
	adminToken, corsOrigins   string
	corsHeaders               string
	tokensFile, clientCA      string
	traceStdout               bool
	logFormat, logLevel       string
	shutdownGrace             time.Duration
	shutdownDelay             time.Duration
	bodyTimeout, idleTimeout  time.Duration
	debugAddr                 string
	maxConns, maxConnsPerAddr int
	grpcTransport             string
	respAddr, respGroup       string

	nodeID, advertise, etcd, peers string
	leaseTTL                       time.Duration
	replicas                       int
	tlsCert, tlsKey, tlsCA         string
	sharedDB                       bool
	clusterSecret                  string
	peerTimeout                    time.Duration
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (*flags, error) {
	f := &flags{}
	fs := flag.NewFlagSet("distcache", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "usage: distcache [flags]   run a node\n       distcache COMMAND ...   call one (get, set, del, stats, ...; distcache help lists them)\n\nflags:\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&f.addr, "addr", ":8080", "address to serve the API on (HTTP/1.1 and h2c)")
	fs.StringVar(&f.db, "db", "./distcache.db", "embedded SQLite database, created with demo rows if missing")
	fs.StringVar(&f.config, "config", "", "groups file (YAML); empty serves group \"default\" from the database")
	fs.StringVar(&f.plugins, "plugins", "./plugins", "directory of plugin modules (.wasm), watched for new versions")
	fs.BoolVar(&f.builtinPlugins, "builtin-plugins", true, "load the plugins compiled into the node (the shipped policies and loaders) when --plugins has no file of their name; false loads only the files, and a group whose policy has no file is served by the native LRU")
	fs.StringVar(&f.pluginCache, "plugin-cache", defaultPluginCache(), "directory that keeps compiled plugins across restarts; empty compiles at every start")
	fs.IntVar(&f.pluginMemoryMiB, "plugin-memory-mib", 64, "memory cap of each loader plugin instance, in MiB")
	fs.IntVar(&f.policyMemoryMiB, "policy-memory-mib", 0, "memory cap of each policy plugin instance, in MiB; 0 derives it from the group's capacity")
	fs.Int64Var(&f.pluginMaxBytes, "plugin-max-bytes", 64<<20, "largest plugin file read from --plugins; a larger one, or one that is not a regular file, is refused")
	fs.Int64Var(&f.pluginCacheMaxBytes, "plugin-cache-max-bytes", 512<<20, "bound on --plugin-cache; the least recently used compiled plugins are deleted past it")
	fs.Int64Var(&f.maxValueBytes, "max-value-bytes", 1<<20, "largest value a Set may carry, at most 64 MiB")
	fs.IntVar(&f.maxBatchKeys, "max-batch-keys", 1000, "most keys one GetMany, SetMany or DeleteMany may carry, 1 to 100000")
	fs.StringVar(&f.adminToken, "admin-token", "", "bearer token for mutating admin calls; empty refuses them")
	fs.StringVar(&f.tokensFile, "tokens-file", "", "file of data-plane tokens, one \"SCOPES TOKEN\" a line (scopes: read, write, admin); every public call then needs a token with its scope")
	fs.StringVar(&f.clientCA, "client-ca", "", "with --tls-cert: CA bundle (PEM) that every client's certificate must be signed by (mutual TLS on the public port)")
	fs.StringVar(&f.corsHeaders, "cors-headers", "", "comma-separated request headers browsers may send besides the protocols' own, Authorization, traceparent, tracestate, baggage and x-request-id")
	fs.StringVar(&f.corsOrigins, "cors-origins", "", "comma-separated browser origins allowed to call the API (\"*\" for any); empty allows http://localhost:* and http://127.0.0.1:*")
	fs.BoolVar(&f.traceStdout, "trace-stdout", false, "write every span to stdout as JSON")
	fs.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.DurationVar(&f.shutdownDelay, "shutdown-delay", 5*time.Second, "on SIGTERM, how long the node reports not ready (GET /readyz 503, health NOT_SERVING) while it keeps serving, so load balancers drain it, before it stops accepting connections; Ctrl-C (SIGINT) does not wait")
	fs.DurationVar(&f.shutdownGrace, "shutdown-grace", 10*time.Second, "how long in-flight requests may take to finish on SIGINT/SIGTERM")
	fs.StringVar(&f.debugAddr, "debug-addr", "", "serve net/http/pprof profiles on this address (its own listener, never the public port; keep it on loopback); empty serves none")
	fs.DurationVar(&f.bodyTimeout, "body-timeout", api.DefaultBodyTimeout, "how long reading one request's body may take (streaming calls excepted)")
	fs.DurationVar(&f.idleTimeout, "idle-timeout", api.DefaultIdleTimeout, "close a connection idle this long")
	fs.StringVar(&f.grpcTransport, "grpc-transport", "grpc-go", "what serves connections from gRPC-only clients: grpc-go (its HTTP/2 transport, the fast path) or net/http (the server every other connection has)")
	fs.StringVar(&f.respAddr, "resp-addr", "", "also serve the Redis protocol (a subset: GET, SET, MGET, ...; see README) on this address; empty serves none")
	fs.StringVar(&f.respGroup, "resp-default-group", "default", "with --resp-addr: the group of keys that name none (\"users:42\" is key 42 of group users when the node has one)")
	fs.IntVar(&f.maxConns, "max-conns", api.DefaultMaxConns, "most open connections; at the limit a new one replaces the one idle the longest (negative: no limit)")
	fs.IntVar(&f.maxConnsPerAddr, "max-conns-per-client", api.DefaultMaxConnsPerClient, "most open connections from one client IP address (negative: no limit)")
	fs.StringVar(&f.nodeID, "node-id", "", "this node's stable ID in the cluster; empty means the --advertise address")
	fs.StringVar(&f.advertise, "advertise", "", "host:port other nodes reach this node at; empty means --addr, with this machine's hostname if --addr has no host")
	fs.StringVar(&f.etcd, "etcd", "", "comma-separated etcd endpoints (host:port); join the cluster registered there")
	fs.StringVar(&f.peers, "peers", "", "comma-separated static cluster members, each host:port or id=host:port (when --etcd is not set)")
	fs.DurationVar(&f.leaseTTL, "lease-ttl", 3*time.Second, "etcd lease time to live: how soon a crashed node is dropped")
	fs.IntVar(&f.replicas, "replicas", 0, "virtual nodes per member on the ring; 0 means the default (160)")
	fs.StringVar(&f.clusterSecret, "cluster-secret", "", "secret every node of the cluster shares; peer calls without it are refused (required with --etcd or --peers; prefer the environment variable)")
	fs.BoolVar(&f.sharedDB, "shared-db", false, "every node of the cluster uses this same --db file (nodes on one host): allows write-through groups in a cluster")
	fs.DurationVar(&f.peerTimeout, "peer-timeout", 500*time.Millisecond, "how long a peer read or replication call may take before the peer counts as unreachable")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "TLS certificate (PEM): serve HTTPS and call peers over HTTPS")
	fs.StringVar(&f.tlsKey, "tls-key", "", "TLS private key (PEM) for --tls-cert")
	fs.StringVar(&f.tlsCA, "tls-ca", "", "CA bundle (PEM) to check peers' certificates against; empty means the system's")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (distcache help lists the client's commands)", fs.Arg(0))
	}
	if err := applyEnv(fs, getenv); err != nil {
		return nil, err
	}
	if f.leaseTTL < time.Second {
		return nil, fmt.Errorf("--lease-ttl %v must be at least 1s", f.leaseTTL)
	}
	if f.advertise == "" {
		f.advertise = defaultAdvertise(f.addr)
	}
	if f.pluginMemoryMiB < 1 || f.pluginMemoryMiB > 4096 {
		return nil, fmt.Errorf("--plugin-memory-mib %d must be between 1 and 4096", f.pluginMemoryMiB)
	}
	if f.policyMemoryMiB < 0 || f.policyMemoryMiB > 4096 {
		return nil, fmt.Errorf("--policy-memory-mib %d must be between 0 (derived from each group's capacity) and 4096", f.policyMemoryMiB)
	}
	if f.pluginMaxBytes < 1 {
		return nil, fmt.Errorf("--plugin-max-bytes %d must be at least 1", f.pluginMaxBytes)
	}
	if f.pluginCacheMaxBytes < 1 {
		return nil, fmt.Errorf("--plugin-cache-max-bytes %d must be at least 1", f.pluginCacheMaxBytes)
	}
	if f.maxBatchKeys < 1 || f.maxBatchKeys > 100_000 {
		return nil, fmt.Errorf("--max-batch-keys %d must be between 1 and 100000", f.maxBatchKeys)
	}
	if f.maxValueBytes < 1 || f.maxValueBytes > maxValueLimit {
		return nil, fmt.Errorf("--max-value-bytes %d must be between 1 and %d", f.maxValueBytes, maxValueLimit)
	}
	for _, h := range splitList(f.corsHeaders) {
		if !httpguts.ValidHeaderFieldName(h) {
			return nil, fmt.Errorf("--cors-headers: %q is not a header name", h)
		}
	}
	if f.grpcTransport != "grpc-go" && f.grpcTransport != "net/http" {
		return nil, fmt.Errorf("--grpc-transport %q must be grpc-go or net/http", f.grpcTransport)
	}
	return f, nil
}

// applyEnv sets each flag not given on the command line from its
// DISTCACHE_* variable, if that is set.
func applyEnv(fs *flag.FlagSet, getenv func(string) string) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		env := "DISTCACHE_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := getenv(env); v != "" && !given[f.Name] && err == nil {
			if serr := fs.Set(f.Name, v); serr != nil {
				err = fmt.Errorf("%s=%q: %w", env, v, serr)
			}
		}
	})
	return err
}

func newLogger(f *flags, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch f.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", f.logFormat)
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	f, err := parseFlags(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err == nil {
		var log *slog.Logger
		if log, err = newLogger(f, stderr); err == nil {
			err = serve(ctx, f, log, stdout)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "distcache: %v\n", err)
		return 1
	}
	return 0
}

func serve(ctx context.Context, f *flags, log *slog.Logger, stdout io.Writer) error {
	cfg := node.Config{
		DBPath:           f.db,
		ConfigPath:       f.config,
		PluginsDir:       f.plugins,
		PluginCacheDir:   f.pluginCache,
		NoBuiltinPlugins: !f.builtinPlugins,
		PluginMemoryMiB:  f.pluginMemoryMiB,
		PolicyMemoryMiB:  f.policyMemoryMiB,
		MaxValueBytes:    f.maxValueBytes,
		MaxBatchKeys:     f.maxBatchKeys,
		AdminToken:       f.adminToken,
		TokensFile:       f.tokensFile,
		ShutdownGrace:    f.shutdownGrace,
		Conns: api.ServeOptions{
			BodyTimeout: f.bodyTimeout, IdleTimeout: f.idleTimeout,
			MaxConns: f.maxConns, MaxConnsPerClient: f.maxConnsPerAddr,
			NetHTTPOnly: f.grpcTransport == "net/http",
		},
		Logger: log,
	}
	cfg.PluginMaxBytes, cfg.PluginCacheMaxBytes = f.pluginMaxBytes, f.pluginCacheMaxBytes
	cfg.CORSHeaders = splitList(f.corsHeaders)
	if f.corsOrigins != "" {
		cfg.CORSOrigins = strings.Split(f.corsOrigins, ",")
	}
	cfg.Cluster = node.ClusterConfig{
		NodeID:      f.nodeID,
		Advertise:   f.advertise,
		Etcd:        splitList(f.etcd),
		Peers:       splitList(f.peers),
		LeaseTTL:    f.leaseTTL,
		Replicas:    f.replicas,
		SharedDB:    f.sharedDB,
		Secret:      f.clusterSecret,
		PeerTimeout: f.peerTimeout,
		TLSCert:     f.tlsCert,
		TLSKey:      f.tlsKey,
		TLSCA:       f.tlsCA,
		ClientCA:    f.clientCA,
	}
	if f.traceStdout {
		cfg.TraceWriter = stdout
	}
	if f.debugAddr != "" {
		stop, err := serveDebug(ctx, f.debugAddr, log)
		if err != nil {
			return fmt.Errorf("--debug-addr: %w", err)
		}
		defer stop()
	}
	n, err := node.New(ctx, cfg)
	if err != nil {
		return err
	}
	defer n.Close()
	tuneGC(n, os.Getenv, log)
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return err
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go drainOnTerm(sctx, cancel, n, f.shutdownDelay, log)
	stopRESP, err := serveRESP(sctx, f, n, log)
	if err != nil {
		return err
	}
	err = n.Serve(sctx, ln)
	cancel() // the RESP listener stops too if Serve failed
	return errors.Join(err, stopRESP())
}

// defaultPluginCache is the user's cache directory for compiled plugins,
// or empty (no cache) where there is none.
func defaultPluginCache() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "distcache", "wazero")
}

// splitList splits a comma-separated flag, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// defaultAdvertise is --addr, with this machine's hostname when --addr
// names no host (":8080", "0.0.0.0:8080").
func defaultAdvertise(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		if h, err := os.Hostname(); err == nil {
			host = h
		}
	}
	return net.JoinHostPort(host, port)
}

// drainOnTerm waits for SIGTERM; then the node reports not ready for
// delay while it serves on, and cancel starts the shutdown. A second
// SIGTERM, or ctx ending, cuts the wait short.
func drainOnTerm(ctx context.Context, cancel context.CancelFunc, n *node.Node, delay time.Duration, log *slog.Logger) {
	select {
	case <-ctx.Done():
		return
	case <-terms:
	}
	if delay > 0 {
		n.Drain()
		log.Info("draining: not ready, still serving", "for", delay)
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-terms:
		case <-ctx.Done():
		}
	}
	cancel()
}
