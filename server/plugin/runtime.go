package plugin

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
)

// ABIVersion is the plugin ABI version this host speaks.
const ABIVersion = 1

// DefaultMemoryLimitMiB caps a plugin instance's memory when
// [Config.MemoryLimitMiB] is zero.
const DefaultMemoryLimitMiB = 64

// DefaultPolicyCallTimeout bounds one call into a policy when
// [Config.PolicyCallTimeout] is zero.
const DefaultPolicyCallTimeout = time.Second

// Config configures a [Runtime]. The zero value works: no compilation
// cache, default limits, logs discarded, no database for loaders.
type Config struct {
	// CacheDir holds compiled modules across restarts; empty disables it.
	CacheDir string
	// MemoryLimitMiB caps each instance's memory (default
	// [DefaultMemoryLimitMiB]).
	MemoryLimitMiB int
	// PolicyCallTimeout bounds one policy call (default
	// [DefaultPolicyCallTimeout]); a call past it is interrupted.
	PolicyCallTimeout time.Duration
	// Logger receives plugin logs and failures.
	Logger *slog.Logger
	// MeterProvider receives plugin metrics.
	MeterProvider metric.MeterProvider
	// DB, when set, is what loaders' sql_query reads. It should be opened
	// read-only; the host also runs every query in a read-only transaction.
	DB *sql.DB
}

// Runtime compiles and runs plugin modules. It is safe for concurrent use.
// Close it to release every instance.
type Runtime struct {
	cfg     Config
	log     *slog.Logger
	rt      wazero.Runtime
	cache   wazero.CompilationCache
	metrics *metrics

	watched  sync.Map // *Policy -> struct{}: instances the watchdog checks
	stopDog  chan struct{}
	dogDone  chan struct{}
	stopOnce sync.Once
}

// NewRuntime starts a wazero runtime with the sandboxed WASI module and the
// distcache host module.
func NewRuntime(ctx context.Context, cfg Config) (*Runtime, error) {
	if cfg.MemoryLimitMiB <= 0 {
		cfg.MemoryLimitMiB = DefaultMemoryLimitMiB
	}
	if cfg.PolicyCallTimeout <= 0 {
		cfg.PolicyCallTimeout = DefaultPolicyCallTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MeterProvider == nil {
		cfg.MeterProvider = metricnoop.NewMeterProvider()
	}
	rc := wazero.NewRuntimeConfig().
		WithCloseOnContextDone(true). // deadlines interrupt running guests
		WithMemoryLimitPages(uint32(cfg.MemoryLimitMiB) * 16)
	r := &Runtime{cfg: cfg, log: cfg.Logger, stopDog: make(chan struct{}), dogDone: make(chan struct{})}
	go r.watchdog()
	if cfg.CacheDir != "" {
		c, err := wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("plugin: compilation cache %s: %w", cfg.CacheDir, err)
		}
		r.cache = c
		rc = rc.WithCompilationCache(c)
	}
	r.rt = wazero.NewRuntimeWithConfig(ctx, rc)
	var err error
	if r.metrics, err = newMetrics(cfg.MeterProvider); err != nil {
		return nil, errors.Join(err, r.Close(ctx))
	}
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, r.rt); err != nil {
		return nil, errors.Join(err, r.Close(ctx))
	}
	if err := r.instantiateHost(ctx); err != nil {
		return nil, errors.Join(err, r.Close(ctx))
	}
	return r, nil
}

// Close closes every module and the compilation cache.
func (r *Runtime) Close(ctx context.Context) error {
	r.stopOnce.Do(func() { close(r.stopDog) })
	<-r.dogDone
	err := r.rt.Close(ctx)
	if r.cache != nil {
		err = errors.Join(err, r.cache.Close(ctx))
	}
	return err
}

// Kind is what a module is for.
type Kind string

// The kinds of module.
const (
	KindPolicy Kind = "policy"
	KindLoader Kind = "loader"
)

// Module is a compiled, validated plugin. Instances are made from it with
// [Module.NewPolicy] or [Module.NewLoader]. It is safe for concurrent use.
type Module struct {
	rt       *Runtime
	name     string
	kind     Kind
	sha256   string
	compiled wazero.CompiledModule
	// CompileTime is how long compiling took (near zero from the cache).
	CompileTime time.Duration
}

// Name returns the plugin's name (its file name without .wasm).
func (m *Module) Name() string { return m.name }

// Kind returns the module's kind.
func (m *Module) Kind() Kind { return m.kind }

// SHA256 returns the hex SHA-256 of the module's bytes.
func (m *Module) SHA256() string { return m.sha256 }

// Close releases the compiled module; instances already made keep working
// until they are closed.
func (m *Module) Close(ctx context.Context) error { return m.compiled.Close(ctx) }

// Compile compiles wasm, checks it against the ABI and starts one probe
// instance to check its version. The error says what is wrong: not wasm, a
// missing or mistyped export, an import not granted, a trap while
// starting, or the wrong ABI version.
func (r *Runtime) Compile(ctx context.Context, name string, wasm []byte) (*Module, error) {
	start := time.Now()
	compiled, err := r.rt.CompileModule(ctx, wasm)
	if err != nil {
		return nil, fmt.Errorf("not a valid WebAssembly module: %w", err)
	}
	m := &Module{rt: r, name: name, sha256: sha256hex(wasm), compiled: compiled,
		CompileTime: time.Since(start)}
	if m.kind, err = validate(compiled); err != nil {
		return nil, errors.Join(err, compiled.Close(ctx))
	}
	if err := m.probe(ctx); err != nil {
		return nil, errors.Join(err, compiled.Close(ctx))
	}
	return m, nil
}

// instantiate starts one anonymous instance, running _initialize if the
// module exports it. Guest output goes to the log.
func (m *Module) instantiate(ctx context.Context) (api.Module, error) {
	out := &logWriter{log: m.rt.log, plugin: m.name}
	cfg := wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions("_initialize").
		WithStdout(out).
		WithStderr(out)
	mod, err := m.rt.rt.InstantiateModule(ctx, m.compiled, cfg)
	if err != nil {
		return nil, fmt.Errorf("starting instance: %w", err)
	}
	return mod, nil
}

func (m *Module) probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, m.rt.cfg.PolicyCallTimeout)
	defer cancel()
	mod, err := m.instantiate(ctx)
	if err != nil {
		return err
	}
	defer mod.Close(ctx)
	res, err := mod.ExportedFunction(exportABIVersion).Call(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", exportABIVersion, err)
	}
	if v := int32(res[0]); v != ABIVersion {
		return fmt.Errorf("ABI version %d, this node speaks %d", v, ABIVersion)
	}
	return nil
}

// logWriter turns a guest's stdout/stderr into log lines.
type logWriter struct {
	log    *slog.Logger
	plugin string
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.log.Info("plugin output", "plugin", w.plugin, "text", string(p))
	return len(p), nil
}

var _ io.Writer = (*logWriter)(nil)

func sha256hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func (r *Runtime) watch(p *Policy)   { r.watched.Store(p, struct{}{}) }
func (r *Runtime) unwatch(p *Policy) { r.watched.Delete(p) }

// watchdog interrupts policy calls that run past the policy call timeout.
// Policy calls sit on the cache's write path, so they get no per-call
// timer: the watchdog looks at every watched instance a few times per
// timeout instead.
func (r *Runtime) watchdog() {
	defer close(r.dogDone)
	t := time.NewTicker(max(r.cfg.PolicyCallTimeout/4, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-r.stopDog:
			return
		case now := <-t.C:
			r.watched.Range(func(k, _ any) bool {
				p := k.(*Policy)
				if s := p.started.Load(); s != 0 && now.UnixNano()-s > int64(r.cfg.PolicyCallTimeout) {
					p.cancel()
				}
				return true
			})
		}
	}
}
