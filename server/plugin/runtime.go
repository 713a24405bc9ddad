package plugin

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
)

// ABIVersion is the plugin ABI version this host speaks.
const ABIVersion = 1

// DefaultMemoryLimitMiB caps a loader instance's memory when
// [Config.MemoryLimitMiB] is zero.
const DefaultMemoryLimitMiB = 64

// DefaultPolicyCallTimeout bounds one call into a policy when
// [Config.PolicyCallTimeout] is zero.
const DefaultPolicyCallTimeout = time.Second

// DefaultMaxModuleBytes is the largest plugin file read when
// [Config.MaxModuleBytes] is zero.
const DefaultMaxModuleBytes = 64 << 20

// DefaultCacheMaxBytes bounds the compilation cache directory when
// [Config.CacheMaxBytes] is zero.
const DefaultCacheMaxBytes = 512 << 20

// Config configures a [Runtime]. The zero value works: no compilation
// cache, default limits, logs discarded, no database for loaders.
type Config struct {
	// CacheDir holds compiled modules across restarts; empty disables it.
	CacheDir string
	// MemoryLimitMiB caps each loader instance's memory (default
	// [DefaultMemoryLimitMiB]), at most 4096.
	MemoryLimitMiB int
	// PolicyMemoryLimitMiB caps each policy instance's memory, at most
	// 4096. Zero (the default) derives each instance's cap from its
	// group's capacity with [PolicyMemoryLimit].
	PolicyMemoryLimitMiB int
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
	// HTTPTimeout bounds one http_get of a loader, redirects and body
	// included (default [DefaultHTTPTimeout]); the call's deadline applies
	// too.
	HTTPTimeout time.Duration
	// MaxModuleBytes is the largest plugin file the manager reads (default
	// [DefaultMaxModuleBytes]); a larger one is refused unread.
	MaxModuleBytes int64
	// CacheMaxBytes bounds the files under CacheDir (default
	// [DefaultCacheMaxBytes]); the least recently used are deleted past it.
	CacheMaxBytes int64
}

// Runtime compiles and runs plugin modules. It is safe for concurrent use.
// Close it to release every instance.
type Runtime struct {
	cfg     Config
	log     *slog.Logger
	rt      wazero.Runtime
	cache   wazero.CompilationCache
	metrics *metrics

	// cacheMu serialises compiling with a cache, so the files a compile
	// adds are known to be its own; cacheFiles maps a module's SHA-256 to
	// its file in the cache.
	cacheMu    sync.Mutex
	cacheFiles map[string]string
	// liveModules and liveInstances count compiled modules and instances
	// not yet closed.
	liveModules, liveInstances atomic.Int64

	watched sync.Map // *Policy -> struct{}: instances the watchdog checks
	// mappings holds the address ranges of closed instances' memories.
	mappings mappingPool
	// failedGroups maps a group whose policy instance failed to the
	// policy's name, for the distcache.policy.failed gauge.
	failedGroups sync.Map
	// failures are each plugin name's failures since the runtime started.
	failures failures
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
	cfg.MemoryLimitMiB = min(cfg.MemoryLimitMiB, MaxMemoryBytes>>20)
	cfg.PolicyMemoryLimitMiB = min(max(cfg.PolicyMemoryLimitMiB, 0), MaxMemoryBytes>>20)
	if cfg.PolicyCallTimeout <= 0 {
		cfg.PolicyCallTimeout = DefaultPolicyCallTimeout
	}
	if cfg.MaxModuleBytes <= 0 {
		cfg.MaxModuleBytes = DefaultMaxModuleBytes
	}
	if cfg.CacheMaxBytes <= 0 {
		cfg.CacheMaxBytes = DefaultCacheMaxBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MeterProvider == nil {
		cfg.MeterProvider = metricnoop.NewMeterProvider()
	}
	rc := wazero.NewRuntimeConfig().
		WithCloseOnContextDone(true). // deadlines interrupt running guests
		// Each instance has its own cap below this (see cappedMemory).
		WithMemoryLimitPages(MaxMemoryBytes >> 16)
	r := &Runtime{cfg: cfg, log: cfg.Logger, cacheFiles: map[string]string{},
		stopDog: make(chan struct{}), dogDone: make(chan struct{})}
	if cfg.CacheDir != "" {
		c, err := wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("plugin: compilation cache %s: %w", cfg.CacheDir, err)
		}
		r.cache = c
		rc = rc.WithCompilationCache(c)
	}
	// From here on a failure closes r, which stops the watchdog.
	go r.watchdog()
	r.rt = wazero.NewRuntimeWithConfig(ctx, rc)
	var err error
	if r.metrics, err = newMetrics(cfg.MeterProvider, r); err != nil {
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

// Close closes every module and the compilation cache. No call into a
// plugin may be running: the instances' memory is unmapped.
func (r *Runtime) Close(ctx context.Context) error {
	r.stopOnce.Do(func() { close(r.stopDog) })
	<-r.dogDone
	err := r.rt.Close(ctx)
	r.mappings.release() // every instance is closed
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
//
// A module is reference-counted: its owner (whoever compiled it) holds one
// reference, dropped by [Module.Close], and every instance and loader call
// in flight holds one more. The compiled code is released when the last
// reference goes, so a replaced version lives until its last call ends.
type Module struct {
	rt     *Runtime
	name   string
	kind   Kind
	sha256 string
	// file is where the manager read the module from: its path, or
	// "built-in"; empty for a module compiled by another caller.
	file     string
	compiled wazero.CompiledModule
	refs     atomic.Int64
	closed   sync.Once // the owner's reference is dropped once
	// CompileTime is how long compiling took (near zero from the cache).
	CompileTime time.Duration
}

// errModuleClosed is returned for an instance asked of a released module.
var errModuleClosed = errors.New("plugin module already released")

// Name returns the plugin's name (its file name without .wasm).
func (m *Module) Name() string { return m.name }

// Kind returns the module's kind.
func (m *Module) Kind() Kind { return m.kind }

// SHA256 returns the hex SHA-256 of the module's bytes.
func (m *Module) SHA256() string { return m.sha256 }

// Close drops the owner's reference. The compiled code is released at
// once if no instance is left, else when the last instance is closed;
// instances already made keep working until then. Calling it again does
// nothing.
func (m *Module) Close(ctx context.Context) error {
	var err error
	m.closed.Do(func() { err = m.release(ctx) })
	return err
}

// acquire takes a reference, unless the module was already released.
func (m *Module) acquire() bool {
	for {
		n := m.refs.Load()
		if n <= 0 {
			return false
		}
		if m.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// release drops a reference and closes the compiled code with the last.
func (m *Module) release(ctx context.Context) error {
	if m.refs.Add(-1) != 0 {
		return nil
	}
	m.rt.liveModules.Add(-1)
	return m.compiled.Close(ctx)
}

// Compile compiles wasm, checks it against the ABI and starts one probe
// instance to check its version. The error says what is wrong: not wasm, a
// missing or mistyped export, an import not granted, a trap while
// starting, or the wrong ABI version. A refused module's compiled code is
// released before Compile returns.
func (r *Runtime) Compile(ctx context.Context, name string, wasm []byte) (*Module, error) {
	start := time.Now()
	sum := sha256hex(wasm)
	compiled, err := r.compile(ctx, sum, wasm)
	if err != nil {
		return nil, fmt.Errorf("not a valid WebAssembly module: %w", err)
	}
	r.liveModules.Add(1)
	m := &Module{rt: r, name: name, sha256: sum, compiled: compiled,
		CompileTime: time.Since(start)}
	m.refs.Store(1)
	if m.kind, err = validate(compiled); err != nil {
		return nil, errors.Join(err, m.Close(ctx))
	}
	if err := m.probe(ctx); err != nil {
		return nil, errors.Join(err, m.Close(ctx))
	}
	return m, nil
}

// instantiate starts one anonymous instance whose memory is capped at
// limit bytes, running _initialize if the module exports it. Guest output
// goes to the log through the guestIO returned: call its endCall after
// every call into the instance. The instance holds a reference on m: end
// it with [Module.drop], once.
func (m *Module) instantiate(ctx context.Context, limit int64) (api.Module, *guestIO, error) {
	// wazero asks the allocator for the module's initial memory and fails
	// on the nil a capped allocator returns past its cap (it panics), so a
	// module whose memory starts above the cap is refused here.
	if mem, ok := m.compiled.ExportedMemories()["memory"]; ok {
		if start := uint64(mem.Min()) * wasmPageSize; start > uint64(limit) {
			return nil, nil, fmt.Errorf("its memory starts at %d pages (%d MiB), over this instance's cap of %d MiB", mem.Min(), start>>20, limit>>20)
		}
	}
	if !m.acquire() {
		return nil, nil, errModuleClosed
	}
	ctx = experimental.WithMemoryAllocator(ctx, cappedMemory{limit: uint64(limit), pool: &m.rt.mappings})
	out := newGuestIO(m.rt.log, m.name)
	cfg := wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions("_initialize").
		WithStdout(out.stdout).
		WithStderr(out.stderr)
	mod, err := m.rt.rt.InstantiateModule(ctx, m.compiled, cfg)
	if err = out.endCall(err); err != nil {
		return nil, nil, errors.Join(fmt.Errorf("starting instance: %w", err), m.release(ctx))
	}
	m.rt.liveInstances.Add(1)
	return mod, out, nil
}

// drop closes an instance made by instantiate and drops its reference.
func (m *Module) drop(inst api.Module) error {
	ctx := context.Background()
	err := inst.Close(ctx)
	m.rt.liveInstances.Add(-1)
	return errors.Join(err, m.release(ctx))
}

func (m *Module) probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, m.rt.cfg.PolicyCallTimeout)
	defer cancel()
	mod, out, err := m.instantiate(ctx, m.rt.loaderMemoryLimit())
	if err != nil {
		return err
	}
	defer m.drop(mod)
	res, err := mod.ExportedFunction(exportABIVersion).Call(ctx)
	if err = out.endCall(err); err != nil {
		return fmt.Errorf("%s: %w", exportABIVersion, err)
	}
	if v := int32(res[0]); v != ABIVersion {
		return fmt.Errorf("ABI version %d, this node speaks %d", v, ABIVersion)
	}
	return nil
}

// loaderMemoryLimit is the memory cap of a loader instance (and of the
// probe a module is checked with), in bytes.
func (r *Runtime) loaderMemoryLimit() int64 { return int64(r.cfg.MemoryLimitMiB) << 20 }

// policyMemoryLimit is the memory cap of a policy instance for a group of
// capacity bytes.
func (r *Runtime) policyMemoryLimit(capacity int64) int64 {
	if r.cfg.PolicyMemoryLimitMiB > 0 {
		return int64(r.cfg.PolicyMemoryLimitMiB) << 20
	}
	return PolicyMemoryLimit(capacity)
}

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

// compile compiles wasm, keeping the compilation cache directory under
// [Config.CacheMaxBytes].
//
// wazero's file cache never deletes a file, so the runtime bounds it
// itself, LRU by size: each compile is followed by a pass over the cache
// that deletes the least recently used files until the rest fit. "Used" is
// the file's modification time, which the runtime sets whenever a module
// is compiled from it. Access times were rejected: relatime and noatime
// mounts do not keep them. wazero names a file by a hash of the module and
// the CPU's features that it does not export, so the runtime learns which
// file is a module's by watching which one its first compile adds, and
// compiles one module at a time to keep that unambiguous. After a restart
// a module read from the cache is not known until it is compiled afresh:
// its file keeps its older time, and evicting it too early costs one
// compile at a later start, never a wrong module.
func (r *Runtime) compile(ctx context.Context, sum string, wasm []byte) (wazero.CompiledModule, error) {
	if r.cache == nil {
		return r.rt.CompileModule(ctx, wasm)
	}
	r.cacheMu.Lock()
	defer r.cacheMu.Unlock()
	before, err := listCache(r.cfg.CacheDir)
	if err != nil {
		r.log.Warn("plugin compilation cache not bounded", "dir", r.cfg.CacheDir, "err", err)
	}
	compiled, err := r.rt.CompileModule(ctx, wasm)
	if err != nil {
		return nil, err
	}
	if err := r.trimCache(sum, before); err != nil {
		r.log.Warn("plugin compilation cache not bounded", "dir", r.cfg.CacheDir, "err", err)
	}
	return compiled, nil
}

// cacheFile is one file of the compilation cache.
type cacheFile struct {
	path string
	size int64
	used time.Time
}

// staleTemp is the age past which a cache's temporary file is a leftover
// of a crash rather than one being written.
const staleTemp = time.Hour

// listCache returns the files of wazero's cache directories under dir
// (named wazero-<version>-<arch>-<os>, so older versions' count too).
// Nothing else in dir is listed: the directory may be shared.
func listCache(dir string) ([]cacheFile, error) {
	roots, err := filepath.Glob(filepath.Join(dir, "wazero-*"))
	if err != nil {
		return nil, err
	}
	var files []cacheFile
	for _, root := range roots {
		entries, err := os.ReadDir(root)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			info, err := e.Info()
			if err != nil || !info.Mode().IsRegular() {
				continue // deleted meanwhile, or not a cache file
			}
			if strings.HasSuffix(e.Name(), ".tmp") && time.Since(info.ModTime()) < staleTemp {
				continue // being written
			}
			files = append(files, cacheFile{filepath.Join(root, e.Name()), info.Size(), info.ModTime()})
		}
	}
	return files, nil
}

// trimCache records the file the last compile added as sum's, marks sum's
// file used, and deletes the least recently used files past the limit.
// Called with cacheMu held.
func (r *Runtime) trimCache(sum string, before []cacheFile) error {
	after, err := listCache(r.cfg.CacheDir)
	if err != nil {
		return err
	}
	old := map[string]bool{}
	for _, f := range before {
		old[f.path] = true
	}
	for _, f := range after {
		if !old[f.path] && !strings.HasSuffix(f.path, ".tmp") {
			r.cacheFiles[sum] = f.path
		}
	}
	now := time.Now()
	for i, f := range after {
		if f.path == r.cacheFiles[sum] {
			after[i].used = now
			if err := os.Chtimes(f.path, now, now); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	return r.evict(after)
}

// evict deletes the least recently used files until the rest fit in
// [Config.CacheMaxBytes].
func (r *Runtime) evict(files []cacheFile) error {
	var total int64
	for _, f := range files {
		total += f.size
	}
	slices.SortFunc(files, func(a, b cacheFile) int { return a.used.Compare(b.used) })
	for _, f := range files {
		if total <= r.cfg.CacheMaxBytes {
			return nil
		}
		if err := os.Remove(f.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		total -= f.size
		for sum, p := range r.cacheFiles {
			if p == f.path {
				delete(r.cacheFiles, sum)
			}
		}
	}
	return nil
}
