// Package node assembles one distcache node from its configuration: the
// embedded SQLite source, the shared SQL databases its groups name, the
// cache groups, telemetry and the API handler.
// main runs one; tests run several in one process.
package node

import (
	"cmp"
	"context"
	"crypto/tls"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"slices"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/distcache/distcache/server/api"
	"github.com/distcache/distcache/server/cache"
	"github.com/distcache/distcache/server/cluster"
	"github.com/distcache/distcache/server/config"
	"github.com/distcache/distcache/server/membership"
	"github.com/distcache/distcache/server/peer"
	"github.com/distcache/distcache/server/plugin"
	"github.com/distcache/distcache/server/plugin/builtin"
	"github.com/distcache/distcache/server/resp"
	"github.com/distcache/distcache/server/source"
	"github.com/distcache/distcache/server/telemetry"
)

// Config is a node's configuration, mostly from its flags.
type Config struct {
	// DBPath is the embedded SQLite database (--db), created if missing.
	// Empty means none: groups with a sqlite loader are then refused, and
	// a wasm loader's sql_query has no database.
	DBPath string
	// ConfigPath is the groups file (--config); empty serves
	// [config.Default] (or File).
	ConfigPath string
	// File, when set, is the groups configuration built in code; it is
	// checked as a groups file is ([config.Check]) and ConfigPath is
	// ignored.
	File *config.File
	// Loaders are Go loaders by group name: each serves the misses of a
	// group of the configuration that has no loader of its own.
	Loaders map[string]cache.Loader
	// PluginsDir is the directory of plugin modules (--plugins), watched
	// for new versions; empty means none.
	PluginsDir string
	// NoBuiltinPlugins leaves out the plugins compiled into the node
	// (package [builtin]; --builtin-plugins=false): only the plugins
	// directory's files load, and a group whose policy has no file is
	// served by the native LRU. By default the built-in ones load, and a
	// file of the same name overrides one.
	NoBuiltinPlugins bool
	// PluginCacheDir keeps compiled plugins across restarts
	// (--plugin-cache); empty compiles at every start.
	PluginCacheDir string
	// PluginMemoryMiB caps each loader instance's memory
	// (--plugin-memory-mib; default 64).
	PluginMemoryMiB int
	// PolicyMemoryMiB caps each policy instance's memory
	// (--policy-memory-mib); 0, the default, derives each group's cap from
	// its capacity ([plugin.PolicyMemoryLimit]).
	PolicyMemoryMiB int
	// PluginMaxBytes is the largest plugin file read (--plugin-max-bytes;
	// default [plugin.DefaultMaxModuleBytes]).
	PluginMaxBytes int64
	// PluginCacheMaxBytes bounds PluginCacheDir, least recently used files
	// deleted first (--plugin-cache-max-bytes; default
	// [plugin.DefaultCacheMaxBytes]).
	PluginCacheMaxBytes int64
	// MaxValueBytes is the largest value a Set may carry (--max-value-bytes).
	MaxValueBytes int64
	// MaxBatchKeys is the most keys one GetMany, SetMany or DeleteMany
	// may carry (--max-batch-keys; default [api.DefaultMaxBatchKeys]).
	MaxBatchKeys int
	// AdminToken guards the mutating admin calls (--admin-token).
	AdminToken string
	// TokensFile, when set, is a file of data-plane tokens with scopes
	// (--tokens-file; see api.ParseTokens): every public call then needs
	// a token with its scope.
	TokensFile string
	// CORSOrigins are the browser origins allowed (--cors-origins); nil
	// means [api.DefaultCORSOrigins].
	CORSOrigins []string
	// CORSHeaders are more request headers browsers may send
	// (--cors-headers).
	CORSHeaders []string
	// TraceWriter, when set, receives every span as JSON (--trace-stdout).
	TraceWriter io.Writer
	// ShutdownGrace bounds how long in-flight requests may take to finish
	// after shutdown begins (default 10s).
	ShutdownGrace time.Duration
	// Conns bounds connections and request bodies (--body-timeout,
	// --idle-timeout, --max-conns, --max-conns-per-client); zero fields
	// take api.ServeOptions' defaults. Grace, TLS and OnShutdown in it are
	// ignored.
	Conns api.ServeOptions
	// Logger receives the node's logs (default: discarded).
	Logger *slog.Logger
	// Cluster says how the node finds the others; the zero value runs it
	// alone.
	Cluster ClusterConfig
	// TracerProvider and MeterProvider, when set, replace the ones made
	// from the OTEL_* environment (tests record spans with them).
	TracerProvider trace.TracerProvider
	MeterProvider  metric.MeterProvider
}

// Node is one running distcache node. It is safe for concurrent use.
type Node struct {
	cfg     Config
	log     *slog.Logger
	db      *source.DB
	tel     *telemetry.Telemetry
	groups  []*cache.Group // sorted by name
	plugins *plugin.Manager
	picker  *cluster.Picker
	member  membership.Membership
	// peerClient calls the other members (their admin service too).
	peerClient *peer.Client
	health     *api.Health
	// pluginsLoaded is set once the plugins directory's first compile
	// is done (readiness).
	pluginsLoaded atomic.Bool
	serveTLS      *tls.Config
	handler       http.Handler
	tokens        api.Tokens
	closers       []func() error

	rebalanced atomic.Int64 // rebalancing runs finished
}

var _ api.Groups = (*Node)(nil)

// New builds a node. A bad groups file or source returns an error naming
// the file, the field and the problem; nothing is left open.
func New(ctx context.Context, cfg Config) (_ *Node, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ShutdownGrace <= 0 {
		cfg.ShutdownGrace = 10 * time.Second
	}
	n := &Node{cfg: cfg, log: cfg.Logger}
	defer func() {
		if err != nil {
			err = errors.Join(err, n.Close())
		}
	}()
	file := config.Default()
	switch {
	case cfg.File != nil:
		if err = config.Check(n.configName(), cfg.File); err != nil {
			return nil, err
		}
		file = cfg.File
	case cfg.ConfigPath != "":
		if file, err = config.Load(cfg.ConfigPath); err != nil {
			return nil, err
		}
	}
	if err = checkLoaders(file, cfg.Loaders); err != nil {
		return nil, err
	}
	if cfg.DBPath != "" {
		if n.db, err = source.Open(ctx, cfg.DBPath); err != nil {
			return nil, err
		}
		n.closers = append(n.closers, n.db.Close)
	}
	if err = n.setupTelemetry(ctx); err != nil {
		return nil, err
	}
	// Made before the plugins, which report each group's policy in it.
	n.health = api.NewHealth("distcache.v1.CacheService", "distcache.v1.AdminService", "distcache.v1.ClusterService")
	if err = n.setupPlugins(ctx, file); err != nil {
		return nil, err
	}
	if err = n.setupCluster(ctx); err != nil {
		return nil, err
	}
	for i, gc := range file.Groups {
		if err = n.addGroup(ctx, i, gc); err != nil {
			return nil, err
		}
	}
	slices.SortFunc(n.groups, func(a, b *cache.Group) int { return cmp.Compare(a.Name(), b.Name()) })
	// The groups are made: the rebalancer may walk them from now on.
	n.startRebalancer()
	var tokens api.Tokens
	if cfg.TokensFile != "" {
		if tokens, err = api.LoadTokens(cfg.TokensFile); err != nil {
			return nil, fmt.Errorf("--tokens-file: %w", err)
		}
	}
	n.handler, err = api.NewHandler(api.Config{
		Groups:         n,
		MaxValueBytes:  cfg.MaxValueBytes,
		MaxBatchKeys:   cfg.MaxBatchKeys,
		AdminToken:     cfg.AdminToken,
		Tokens:         tokens,
		CORSOrigins:    cfg.CORSOrigins,
		CORSHeaders:    cfg.CORSHeaders,
		TracerProvider: n.tel.TracerProvider,
		MeterProvider:  n.tel.MeterProvider,
		Propagator:     n.tel.Propagator,
		Metrics:        n.tel.Metrics,
		Plugins:        n.plugins,
		Cluster:        n.picker,
		Members:        n.peerClient.Admin,
		Logger:         n.log,
		ClusterSecret:  cfg.Cluster.Secret,
		Health:         n.health,
		Ready:          n.ready,
		RateLimits:     rateLimits(file),
	})
	n.tokens = tokens
	return n, err
}

// rateLimits returns the rate limits of f's groups that have one.
func rateLimits(f *config.File) map[string]api.RateLimit {
	limits := map[string]api.RateLimit{}
	for _, g := range f.Groups {
		if g.RateLimit != nil {
			limits[g.Name] = api.RateLimit{PerClient: g.RateLimit.PerClient, Burst: g.RateLimit.Burst}
		}
	}
	return limits
}

func (n *Node) setupTelemetry(ctx context.Context) error {
	tel, err := telemetry.New(ctx, telemetry.Config{TraceWriter: n.cfg.TraceWriter})
	if err != nil {
		return fmt.Errorf("telemetry: %w", err)
	}
	n.closers = append(n.closers, func() error { return tel.Shutdown(context.Background()) })
	if n.cfg.TracerProvider != nil {
		tel.TracerProvider = n.cfg.TracerProvider
	}
	if n.cfg.MeterProvider != nil {
		tel.MeterProvider = n.cfg.MeterProvider
	}
	n.tel = tel
	return nil
}

// addGroup makes the i-th group of the file with its loader.
func (n *Node) addGroup(ctx context.Context, i int, gc config.Group) error {
	// A postgres or mysql source is one database every node reaches, so
	// write-through to it is shared by construction.
	if gc.WriteThrough && n.cfg.Cluster.clustered() && !n.cfg.Cluster.SharedDB && !gc.Loader.Shared() {
		return fmt.Errorf("%s: groups[%d].write_through: group %q writes through to this node's own SQLite file (%s), "+
			"so in a cluster its rows would scatter over the nodes' files; run every node on one --db with --shared-db, "+
			"use a loader of kind postgres or mysql (a database every node shares), "+
			"or use a groups file (--config) without write_through", n.configName(), i, gc.Name, n.dbPath())
	}
	cc := cache.Config{
		Peers:       n.peers(),
		Name:        gc.Name,
		Capacity:    gc.Capacity.Int64(),
		TTL:         gc.TTL.Std(),
		NegativeTTL: gc.NegativeTTL.Std(),
		LoadTimeout: gc.LoadTimeout.Std(),
		Replicas:    gc.Replicas,
		MaxLoads:    gc.MaxLoads,
	}
	if cc.Replicas == 0 {
		cc.Replicas = 1
		if n.cfg.Cluster.clustered() && gc.Loader == nil && n.cfg.Loaders[gc.Name] == nil {
			cc.Replicas = 2 // written data lives only in the cache: keep two copies
		}
	}
	if err := n.setupLoader(ctx, gc, &cc); err != nil {
		return fmt.Errorf("%s: groups[%d].loader: %w", n.configName(), i, err)
	}
	g, err := cache.NewGroup(cc, cache.WithTracerProvider(n.tel.TracerProvider), cache.WithMeterProvider(n.tel.MeterProvider))
	if err != nil {
		return fmt.Errorf("%s: groups[%d]: %w", n.configName(), i, err)
	}
	n.closers = append(n.closers, g.Close)
	n.groups = append(n.groups, g)
	// A policy plugin still compiling, missing or refused leaves the native
	// LRU serving, with a log line and a metric; the background load or
	// the watcher swaps the plugin in later.
	n.health.SetServing(api.PolicyServicePrefix+g.Name(), true) // until the policy fails
	_ = n.plugins.BindPolicy(ctx, g, gc.Policy, cc.Capacity)
	if gc.Loader != nil && gc.Loader.Kind == "wasm" {
		// A wasm loader's group cannot answer a miss without it, and
		// loaders are few: load it now, ahead of the policies.
		if err := n.plugins.Await(ctx, gc.Loader.Plugin); err != nil {
			return fmt.Errorf("%s: groups[%d].loader: %w", n.configName(), i, err)
		}
	}
	return nil
}

// setupLoader gives cc the loader (and, for write-through, the writer) that
// gc configures.
func (n *Node) setupLoader(ctx context.Context, gc config.Group, cc *cache.Config) error {
	switch {
	case gc.Loader == nil:
		cc.Loader = n.cfg.Loaders[gc.Name] // nil: the group holds what is Set
		return nil
	case gc.Loader.Kind == "wasm":
		if err := plugin.CheckHTTPAllow(gc.Loader.HTTPAllow); err != nil {
			return err
		}
		lc := plugin.LoaderConfig{Settings: gc.Loader.Settings, HTTPAllow: gc.Loader.HTTPAllow}
		if kind := gc.Loader.Database; kind != "" {
			db, err := n.openShared(ctx, gc, kind)
			if err != nil {
				return fmt.Errorf("group %q: loader.database: %w", gc.Name, err)
			}
			lc.SQL = &plugin.SQLSource{DB: db.SQL(), Dialect: plugin.Dialect(kind)}
		}
		l, err := n.plugins.Loader(gc.Name, gc.Loader.Plugin, lc)
		cc.Loader = l
		return err
	}
	db := n.db
	if db == nil && !gc.Loader.Shared() {
		return fmt.Errorf("group %q: a loader of kind %s needs the embedded database, and the node has none (--db)", gc.Name, gc.Loader.Kind)
	}
	if gc.Loader.Shared() {
		var err error
		if db, err = n.openShared(ctx, gc, gc.Loader.Kind); err != nil {
			return fmt.Errorf("group %q: %w", gc.Name, err)
		}
	}
	t, err := db.Table(ctx, source.TableConfig{
		Table: gc.Loader.Table, KeyColumn: gc.Loader.KeyColumn, ValueColumn: gc.Loader.ValueColumn,
	}, gc.WriteThrough)
	if err != nil {
		return err
	}
	n.closers = append(n.closers, t.Close)
	cc.Loader = t
	if gc.WriteThrough {
		cc.Writer = t
	}
	return nil
}

// openShared opens the pool of the shared database of kind (postgres or
// mysql) that gc's loader reaches, as its source or, for a wasm loader,
// for sql_query; closed with the node. The DSN comes from the file or from the environment variable
// the file names; it is never logged.
func (n *Node) openShared(ctx context.Context, gc config.Group, kind string) (*source.DB, error) {
	l := gc.Loader
	dsn := l.DSN
	if l.DSNEnv != "" {
		if dsn = os.Getenv(l.DSNEnv); dsn == "" {
			return nil, fmt.Errorf("dsn_env: the environment variable %s is not set or empty", l.DSNEnv)
		}
	}
	if l.Kind == "wasm" {
		// A plugin writes the queries: one statement each.
		var err error
		if dsn, err = source.OneStatementDSN(kind, dsn); err != nil {
			return nil, err
		}
	}
	db, err := source.OpenShared(ctx, source.SharedConfig{
		Kind: kind, DSN: dsn,
		MaxOpenConns: l.MaxOpenConns, MaxIdleConns: l.MaxIdleConns, ConnMaxLifetime: l.ConnMaxLifetime.Std(),
	})
	if err != nil {
		return nil, err
	}
	n.closers = append(n.closers, db.Close)
	if l.Kind == "wasm" {
		n.log.Info("loader plugin's sql_query reads a shared database", "group", gc.Name, "loader", l.Plugin, "database", db.Path())
	} else {
		n.log.Info("group loads from a shared database", "group", gc.Name, "database", db.Path(), "table", l.Table,
			"write_through", gc.WriteThrough)
	}
	return db, nil
}

// dbPath is the embedded database's path, or "none".
func (n *Node) dbPath() string {
	if n.db == nil {
		return "none"
	}
	return n.db.Path()
}

// checkLoaders checks that each Go loader names a group of file that has
// no loader of its own.
func checkLoaders(file *config.File, loaders map[string]cache.Loader) error {
	for _, name := range slices.Sorted(maps.Keys(loaders)) {
		g, ok := file.Group(name)
		switch {
		case !ok:
			return fmt.Errorf("a Go loader for group %q, which the configuration does not have", name)
		case g.Loader != nil:
			return fmt.Errorf("a Go loader for group %q, which has a loader of kind %s already", name, g.Loader.Kind)
		case g.WriteThrough:
			return fmt.Errorf("group %q: write_through needs a loader of kind sqlite, postgres or mysql, not a Go loader", name)
		case loaders[name] == nil:
			return fmt.Errorf("the Go loader for group %q is nil", name)
		}
	}
	return nil
}

func (n *Node) configName() string {
	if n.cfg.File != nil {
		return "configuration"
	}
	if n.cfg.ConfigPath == "" {
		return "default configuration"
	}
	return n.cfg.ConfigPath
}

// setupPlugins starts the plugin runtime and loads the plugins directory
// (if the node has one) and the built-in plugins.
func (n *Node) setupPlugins(ctx context.Context, file *config.File) error {
	var ro *sql.DB
	if n.db != nil {
		var err error
		if ro, err = n.db.ReadOnly(); err != nil {
			return err
		}
		n.closers = append(n.closers, ro.Close)
	}
	rt, err := plugin.NewRuntime(ctx, plugin.Config{
		CacheDir:             n.cfg.PluginCacheDir,
		MemoryLimitMiB:       n.cfg.PluginMemoryMiB,
		PolicyMemoryLimitMiB: n.cfg.PolicyMemoryMiB,
		MaxModuleBytes:       n.cfg.PluginMaxBytes,
		CacheMaxBytes:        n.cfg.PluginCacheMaxBytes,
		Logger:               n.log,
		MeterProvider:        n.tel.MeterProvider,
		DB:                   ro,
	})
	if err != nil {
		return fmt.Errorf("plugins: %w", err)
	}
	n.closers = append(n.closers, func() error { return rt.Close(context.Background()) })
	n.plugins = plugin.NewManager(rt, n.cfg.PluginsDir)
	if !n.cfg.NoBuiltinPlugins {
		if err := n.plugins.SetBuiltins(builtin.FS()); err != nil {
			return err
		}
	}
	n.plugins.OnPolicyState(func(group string, failed *plugin.PolicyFailure) {
		n.health.SetServing(api.PolicyServicePrefix+group, failed == nil)
	})
	n.closers = append(n.closers, func() error { n.plugins.Close(); return nil })
	n.plugins.LoadFirst(pluginsUsed(file)...)
	if n.cfg.PluginsDir != "" {
		// Watch before loading, so a file dropped in meanwhile is not missed.
		w, err := n.plugins.NewWatcher()
		if err != nil {
			return err
		}
		n.watchPlugins(w)
	}
	return n.loadPlugins(ctx)
}

// pluginsUsed returns the plugins the groups of file name, loaders first
// (a group waits for its loader), in the file's order.
func pluginsUsed(file *config.File) []string {
	var loaders, policies []string
	for _, g := range file.Groups {
		if g.Loader != nil && g.Loader.Kind == "wasm" {
			loaders = append(loaders, g.Loader.Plugin)
		}
		policies = append(policies, g.Policy)
	}
	return append(loaders, policies...)
}

// pluginStartWait is how long New waits for the plugins directory to load
// before it goes on with the groups. Modules found in the compilation cache
// load within it, so a restart binds their policies before serving; the
// others finish in the background while the native LRU serves (a node
// must serve within a second of start, issue 10).
const pluginStartWait = 300 * time.Millisecond

// loadPlugins compiles the plugins directory in the background, in
// parallel. Closing the node stops it: compiles not started are dropped
// and the ones running are waited for. ctx's values (a plugin.LoadTrace)
// reach the compiles; its cancellation does not, as New's ctx may end
// once New returns.
func (n *Node) loadPlugins(ctx context.Context) error {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done, err := n.plugins.StartLoadAll(ctx)
	if err != nil {
		cancel()
		return err
	}
	n.closers = append(n.closers, func() error { cancel(); <-done; return nil })
	go func() {
		<-done
		n.pluginsLoaded.Store(true)
	}()
	t := time.NewTimer(pluginStartWait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		n.log.Info("serving before every plugin is compiled; the native LRU serves their groups meanwhile",
			"dir", n.cfg.PluginsDir)
	}
	return nil
}

// watchPlugins swaps in new plugin versions until the node closes.
func (n *Node) watchPlugins(w *plugin.Watcher) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := w.Run(ctx); err != nil {
			n.log.Error("plugins will not be reloaded", "err", err)
		}
	}()
	n.closers = append(n.closers, func() error { cancel(); <-done; return nil })
}

// Plugins returns the node's plugin manager.
func (n *Node) Plugins() *plugin.Manager { return n.plugins }

// Group implements [api.Groups].
func (n *Node) Group(name string) (*cache.Group, bool) {
	i, ok := slices.BinarySearchFunc(n.groups, name, func(g *cache.Group, name string) int {
		return cmp.Compare(g.Name(), name)
	})
	if !ok {
		return nil, false
	}
	return n.groups[i], true
}

// All implements [api.Groups].
func (n *Node) All() []*cache.Group { return n.groups }

// Handler returns the node's HTTP handler.
func (n *Node) Handler() http.Handler { return n.handler }

// Serve serves the node on ln until ctx is done, then marks it not
// serving, lets in-flight requests finish (up to the shutdown grace) and
// returns. It does not close the node.
func (n *Node) Serve(ctx context.Context, ln net.Listener) error {
	n.log.Info("serving", "addr", ln.Addr().String(), "groups", len(n.groups),
		"db", n.dbPath(), "traces", n.tel.Exporter)
	opts := n.cfg.Conns
	opts.Grace, opts.TLS = n.cfg.ShutdownGrace, n.serveTLS
	opts.MaxMessageBytes = int(api.ReadLimit(n.cfg.MaxValueBytes))
	opts.OnShutdown = func() {
		n.health.Shutdown()
		// Leave first, so peers stop sending here before we stop serving.
		if err := n.leave(); err != nil {
			n.log.Warn("leaving the cluster", "err", err)
		}
	}
	err := api.Serve(ctx, ln, n.handler, opts)
	n.log.Info("stopped serving", "addr", ln.Addr().String(), "err", err)
	return err
}

// RESPServer returns a server of the Redis protocol (package resp) for
// the node: its handler, groups, tokens, value and connection limits and
// shutdown grace, with defaultGroup (empty: "default") holding the keys
// that name no group. It fails if defaultGroup is not one of the node's
// groups. Serve it on its own listener beside [Node.Serve].
func (n *Node) RESPServer(defaultGroup string) (*resp.Server, error) {
	names := make([]string, len(n.groups))
	for i, g := range n.groups {
		names[i] = g.Name()
	}
	id := n.cfg.Cluster.NodeID
	if n.picker != nil {
		id = n.picker.Self()
	}
	return resp.New(resp.Config{
		Handler:           n.handler,
		Groups:            names,
		DefaultGroup:      defaultGroup,
		Tokens:            n.tokens,
		MaxValueBytes:     n.cfg.MaxValueBytes,
		MaxConns:          n.cfg.Conns.MaxConns,
		MaxConnsPerClient: n.cfg.Conns.MaxConnsPerClient,
		IdleTimeout:       n.cfg.Conns.IdleTimeout,
		Grace:             n.cfg.ShutdownGrace,
		NodeID:            id,
	})
}

// Drain marks the node not ready (GET /readyz answers 503, its health
// NOT_SERVING) while it keeps serving: the start of a graceful shutdown,
// which [Node.Serve] completes when its context ends.
func (n *Node) Drain() { n.health.Shutdown() }

// ready says what keeps the node from being ready, for GET /readyz:
// plugins still compiling, or, in a cluster, not being in its own ring
// or not sure of its membership lease.
func (n *Node) ready() []string {
	var reasons []string
	if !n.pluginsLoaded.Load() {
		reasons = append(reasons, "plugins compiling")
	}
	if n.picker != nil && n.cfg.Cluster.clustered() {
		in := false
		for _, m := range n.picker.Ring().Members() {
			in = in || m.ID == n.picker.Self()
		}
		if !in {
			reasons = append(reasons, "not in the ring")
		}
		if !n.picker.View().Certain {
			reasons = append(reasons, "membership lease not confirmed")
		}
	}
	return reasons
}

// Close releases everything the node holds, newest first.
func (n *Node) Close() error {
	var errs []error
	for i := len(n.closers) - 1; i >= 0; i-- {
		errs = append(errs, n.closers[i]())
	}
	n.closers = nil
	return errors.Join(errs...)
}
