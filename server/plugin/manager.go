package plugin

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/distcache/distcache/server/cache"
)

// namePattern is what a plugin's file name (without .wasm) must match.
var namePattern = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)

// Info describes a loaded plugin.
type Info struct {
	Name   string
	Kind   Kind
	SHA256 string
	// Origin says whether the module is built into the node or a file of
	// the plugins directory.
	Origin Origin
	// File is the module's file, empty for a built-in module.
	File       string
	ABIVersion int
	LoadedAt   time.Time
	Groups     []string // groups using it, sorted
	// Failed are the groups that want this policy but are served by the
	// native LRU because their instance of it failed, sorted by group.
	Failed []PolicyFailure
	// State is [StateFailed] while a group is in Failed, or, for a loader,
	// while its last call failed and no call has succeeded since; else
	// [StateServing].
	State State
	// Failures counts the failures of the plugin's name since the node
	// started, of every version: files refused, instances discarded.
	Failures int64
	// LastFailure is the latest of them, nil if there was none. A file
	// refused while an older version serves is one: the older version's
	// State stays StateServing.
	LastFailure *Failure
}

// State says whether a loaded plugin serves.
type State string

// The states of a loaded plugin.
const (
	// StateServing: every group that uses the plugin runs on it.
	StateServing State = "serving"
	// StateFailed: a group that wants the policy is served by the native
	// LRU since its instance failed, or the loader's last call failed.
	StateFailed State = "failed"
)

// PolicyFailure says why a group's policy instance failed, leaving the
// native LRU to serve the group until a new version of the plugin is
// loaded or the group is given a policy again.
type PolicyFailure struct {
	Group  string
	Policy string
	// Reason is the failure's class, as distcache_plugin_failures_total
	// counts it: "trap" (which includes running out of memory),
	// "deadline" or "bad_call".
	Reason string
	Err    error
	At     time.Time
}

// Manager keeps the modules of a plugins directory loaded and the groups
// that use them up to date: it compiles every file at start, swaps in new
// versions, and falls back to the native LRU for a group whose policy is
// missing or failed. It is safe for concurrent use.
type Manager struct {
	rt  *Runtime
	dir string
	log *slog.Logger

	mu       sync.Mutex
	loaded   map[string]*version
	policies map[string]*policyBinding // by group name
	loaders  map[string][]*GroupLoader // by plugin name
	queued   map[string]*loadTask      // by plugin name: files StartLoadAll has not finished
	// builtinFS holds the built-in modules, builtins their file in it by
	// plugin name (see SetBuiltins).
	builtinFS fs.FS
	builtins  map[string]string
	first     []string // names StartLoadAll queues first (LoadFirst)
	onState   func(group string, failed *PolicyFailure)
}

// version is one loaded module of a plugin name.
type version struct {
	mod      *Module
	origin   Origin
	path     string // the file, for OriginFile
	loadedAt time.Time
	pool     *loaderPool // loaders only
}

// policyBinding is a group's wish for a policy and what it runs now.
type policyBinding struct {
	group   *cache.Group
	want    string
	cap     int64
	current *Policy        // nil while the native LRU serves
	failed  *PolicyFailure // why the native LRU serves, if an instance failed
}

// NewManager returns a manager of dir's plugins on rt. Call NewWatcher,
// then LoadAll (or StartLoadAll), bind the groups, then Run the watcher.
func NewManager(rt *Runtime, dir string) *Manager {
	return &Manager{rt: rt, dir: dir, log: rt.log,
		loaded: map[string]*version{}, policies: map[string]*policyBinding{}, loaders: map[string][]*GroupLoader{},
		queued: map[string]*loadTask{}}
}

// LoadAll compiles every *.wasm in the directory and every built-in
// module without a file of its name ([Manager.SetBuiltins]), up to
// GOMAXPROCS at a time, and returns when all are loaded or refused, or
// soon after ctx is done. A file that is refused is logged and counted; it
// does not stop the others, and the built-in module of its name, if any,
// is loaded instead. A missing directory is created.
func (m *Manager) LoadAll(ctx context.Context) error {
	done, err := m.StartLoadAll(ctx)
	if err != nil {
		return err
	}
	<-done
	return nil
}

// StartLoadAll lists the directory's *.wasm files and the built-in modules
// and compiles them in the background, up to GOMAXPROCS at a time, in name
// order (the names given to [Manager.LoadFirst] first), as
// [Manager.LoadAll] does. Each module is swapped in as soon as it is
// ready: a group bound to a policy still compiling is served by the native
// LRU until then. Use [Manager.Await] for a plugin that cannot wait (a
// group's loader).
//
// The channel returned is closed when every file is loaded or refused. When
// ctx is done no further file is started and the channel closes once the
// compiles in progress return; the caller owns the goroutines until then,
// so cancel ctx and receive from the channel before closing the manager.
// A missing directory is created; only listing it can fail.
func (m *Manager) StartLoadAll(ctx context.Context) (<-chan struct{}, error) {
	var paths []string
	if m.dir != "" { // "": no directory, the built-in plugins only
		if err := os.MkdirAll(m.dir, 0o755); err != nil {
			return nil, fmt.Errorf("plugins directory: %w", err)
		}
		var err error
		if paths, err = filepath.Glob(filepath.Join(m.dir, "*.wasm")); err != nil {
			return nil, err
		}
	}
	queue := map[string]*loadTask{}
	for _, name := range m.builtinNames() {
		queue[name] = &loadTask{name: name, done: make(chan struct{})}
	}
	for _, p := range paths {
		name := strings.TrimSuffix(filepath.Base(p), ".wasm")
		queue[name] = &loadTask{path: p, name: name, done: make(chan struct{})}
	}
	tasks := make(chan *loadTask, len(queue))
	m.mu.Lock()
	for _, name := range m.loadOrder(slices.Sorted(maps.Keys(queue))) {
		m.queued[name] = queue[name]
		tasks <- queue[name]
	}
	m.mu.Unlock()
	close(tasks)
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(queue)) {
		wg.Go(func() {
			for t := range tasks {
				if m.claim(t) {
					m.load(ctx, t)
				}
			}
		})
	}
	start := time.Now()
	go func() {
		wg.Wait()
		m.log.Info("plugins directory loaded", "dir", m.dir, "files", len(paths),
			"builtin", len(queue)-len(paths), "took", time.Since(start), "canceled", ctx.Err() != nil)
		close(done)
	}()
	return done, nil
}

// LoadFirst makes [Manager.StartLoadAll] queue the plugins names (those
// the groups use, say) ahead of the others, in the order given; the others
// follow in name order. Call it before StartLoadAll.
func (m *Manager) LoadFirst(names ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.first = slices.Clone(names)
}

// loadOrder returns sorted names with the ones of LoadFirst moved ahead.
// m.mu is held.
func (m *Manager) loadOrder(sorted []string) []string {
	out := make([]string, 0, len(sorted))
	for _, name := range m.first {
		if _, found := slices.BinarySearch(sorted, name); found && !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	for _, name := range sorted {
		if !slices.Contains(m.first, name) {
			out = append(out, name)
		}
	}
	return out
}

// loadTask is one file or built-in module queued by
// [Manager.StartLoadAll]. The first of the workers and [Manager.Await] to
// claim it loads it; done closes after.
type loadTask struct {
	path, name string // path is empty for a built-in module
	claimed    bool   // guarded by Manager.mu
	done       chan struct{}
}

// claim reports whether the caller is the one to load t.
func (m *Manager) claim(t *loadTask) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	mine := !t.claimed
	t.claimed = true
	return mine
}

// load loads t's file unless ctx is done, then marks t done.
func (m *Manager) load(ctx context.Context, t *loadTask) {
	defer func() {
		m.mu.Lock()
		delete(m.queued, t.name)
		m.mu.Unlock()
		close(t.done)
	}()
	if tr, _ := ctx.Value(loadTraceKey{}).(*LoadTrace); tr != nil && tr.Compiling != nil {
		tr.Compiling(ctx, t.name)
	}
	if ctx.Err() != nil {
		return
	}
	// Refusals are logged and counted.
	if t.path == "" {
		_ = m.loadBuiltin(ctx, t.name)
	} else if err := m.Reload(ctx, t.path); err != nil && m.hasBuiltin(t.name) && m.current(t.name) == nil {
		m.log.Warn("plugin file refused; the built-in version serves until the file is fixed",
			"file", t.path, "plugin", t.name)
		_ = m.loadBuiltin(ctx, t.name)
	}
}

// Await makes sure the plugin name that [Manager.StartLoadAll] queued has
// been loaded or refused: if no worker has started it yet, Await loads it
// on the caller's goroutine, ahead of the queue; if one has, Await waits
// for it. It returns nil at once for a name that is not queued (no such
// file at start, or already done), and ctx's error if ctx is done first.
func (m *Manager) Await(ctx context.Context, name string) error {
	m.mu.Lock()
	t := m.queued[name]
	mine := t != nil && !t.claimed
	if mine {
		t.claimed = true
	}
	m.mu.Unlock()
	switch {
	case t == nil:
		return nil
	case mine:
		m.load(ctx, t)
		return ctx.Err()
	}
	select {
	case <-t.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// LoadTrace holds hooks into the loads that [Manager.StartLoadAll] and
// [Manager.Await] run, in the manner of net/http/httptrace: attach it to
// their context with [WithLoadTrace]. Its zero value hooks nothing.
type LoadTrace struct {
	// Compiling, if set, is called with a queued plugin's name before its
	// file is read and compiled, on the goroutine that will compile it,
	// which waits for it to return. It should return when ctx is done.
	// Tests use it to hold compiles.
	Compiling func(ctx context.Context, name string)
}

type loadTraceKey struct{}

// WithLoadTrace returns ctx with t attached, for [Manager.StartLoadAll].
func WithLoadTrace(ctx context.Context, t *LoadTrace) context.Context {
	return context.WithValue(ctx, loadTraceKey{}, t)
}

// nameOf returns the plugin name of a path, or an error if the file name
// is not a valid plugin name.
func nameOf(path string) (string, error) {
	name, ok := strings.CutSuffix(filepath.Base(path), ".wasm")
	if !ok || !namePattern.MatchString(name) {
		return "", fmt.Errorf("file name %q is not <name>.wasm with a name matching %s", filepath.Base(path), namePattern)
	}
	return name, nil
}

// Reload compiles the file at path and, if it is valid, swaps it in for
// every group that uses its name, in place of a built-in module too. If it
// is not, the error is logged with the file and the reason, counted, and
// returned; the previous version keeps serving. Reloading an unchanged
// file does nothing.
func (m *Manager) Reload(ctx context.Context, path string) error {
	name, err := nameOf(path)
	if err != nil {
		m.rt.failure(filepath.Base(path), path, "", reasonInvalid, err)
		return err
	}
	wasm, err := readModule(ctx, path, m.rt.cfg.MaxModuleBytes)
	if err != nil {
		reason, fe := reasonRead, (*fileError)(nil)
		if errors.As(err, &fe) {
			reason = reasonFile
		}
		m.rt.failure(name, path, "", reason, err)
		return err
	}
	return m.install(ctx, name, wasm, OriginFile, path)
}

// install compiles wasm, the module name from origin (path is its file,
// for OriginFile), and swaps it in unless the same bytes are loaded.
func (m *Manager) install(ctx context.Context, name string, wasm []byte, origin Origin, path string) error {
	source, file := path, path
	if origin == OriginBuiltin {
		source, file = "built-in "+name, builtinFile
	}
	if m.sameVersion(name, sha256hex(wasm), origin, path) {
		return nil
	}
	mod, err := m.rt.Compile(ctx, name, wasm)
	if err != nil {
		err = fmt.Errorf("%s refused: %w", source, err)
		m.rt.failure(name, file, "", reasonInvalid, err)
		return err
	}
	mod.file = file
	if err := m.swap(ctx, mod, origin, path); err != nil {
		m.rt.failure(name, file, "", reasonOf(err), fmt.Errorf("%s: %w", source, err))
		return errors.Join(err, mod.Close(ctx))
	}
	m.log.Info("plugin loaded", "plugin", name, "origin", origin, "file", path, "kind", mod.kind,
		"sha256", mod.sha256, "compile", mod.CompileTime)
	m.rt.metrics.loads.Add(ctx, 1, metric.WithAttributes(attribute.String("plugin", name)))
	return nil
}

func (m *Manager) current(name string) *version {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.loaded[name]
}

// sameVersion reports whether the module of name loaded has the SHA-256
// sum. If it comes from elsewhere than origin and path (a file of the same
// bytes as the built-in module, say), it is marked as coming from there,
// with no need to compile it again.
func (m *Manager) sameVersion(name, sum string, origin Origin, path string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	v := m.loaded[name]
	if v == nil || v.mod.sha256 != sum {
		return false
	}
	v.origin, v.path = origin, path
	return true
}

// swap makes mod the current version of its name. Every group using it
// gets a new policy instance first; if any fails to start, nothing changes.
// The version replaced is released: its module's code goes when its last
// instance does (a loader's busy instances close as their calls end).
func (m *Manager) swap(ctx context.Context, mod *Module, origin Origin, path string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if old := m.loaded[mod.name]; old != nil && old.mod.kind != mod.kind {
		return fmt.Errorf("%s was a %s and is now a %s: remove it first", mod.name, old.mod.kind, mod.kind)
	}
	v := &version{mod: mod, origin: origin, path: path, loadedAt: time.Now()}
	switch mod.kind {
	case KindPolicy:
		if err := m.swapPolicies(ctx, mod); err != nil {
			return err
		}
	case KindLoader:
		m.rt.failures.setFailing(mod.name, false) // a new version starts afresh
		v.pool = mod.newLoaderPool()
		for _, l := range m.loaders[mod.name] {
			l.pool.Store(v.pool)
		}
	}
	if old := m.loaded[mod.name]; old != nil {
		old.release(ctx)
	}
	m.loaded[mod.name] = v
	return nil
}

// release retires v's loader pool and drops its module's owner reference.
// Its policy instances were closed when they were replaced.
func (v *version) release(ctx context.Context) {
	if v.pool != nil {
		v.pool.retire()
	}
	v.mod.Close(ctx) // never fails: wazero's CompiledModule.Close returns nil
}

func (m *Manager) swapPolicies(ctx context.Context, mod *Module) error {
	var bound []*policyBinding
	var fresh []*Policy
	for _, b := range m.policies {
		if b.want != mod.name {
			continue
		}
		p, err := mod.NewPolicy(ctx, b.cap)
		if err != nil {
			for _, f := range fresh {
				f.Close()
			}
			return fmt.Errorf("starting it for group %q: %w", b.group.Name(), err)
		}
		bound, fresh = append(bound, b), append(fresh, p)
	}
	for i, b := range bound {
		m.installLocked(b, fresh[i])
	}
	return nil
}

// installLocked puts p (nil for the native LRU) in b's group and closes
// the policy it replaces. A policy installed clears a failure.
func (m *Manager) installLocked(b *policyBinding, p *Policy) {
	var next cache.Policy = cache.NewLRU()
	if p != nil {
		p.OnFailure = m.policyFailed
		next = p
		m.setFailedLocked(b, nil)
	}
	b.group.SetPolicy(next)
	if b.current != nil {
		b.current.Close()
	}
	b.current = p
}

// policyFailed puts the native LRU in place of a policy instance that
// trapped (ran out of memory, say) or hung, if it is still the group's.
// It is a loud event: one line at ERROR, a metric, the group's state in
// [Manager.Plugins] and in the hook of [Manager.OnPolicyState].
func (m *Manager) policyFailed(p *Policy, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, b := range m.policies {
		if b.current == p {
			m.failLocked(b, p.mod.file, err)
		}
	}
}

// failLocked records that b's policy, of file, failed with err and
// installs the native LRU. It logs the one ERROR record of the failure,
// with the guest's panic message and stack if it printed them.
func (m *Manager) failLocked(b *policyBinding, file string, err error) {
	f := &PolicyFailure{Group: b.group.Name(), Policy: b.want, Reason: reasonOf(err), Err: err, At: time.Now()}
	attrs := []any{"group", f.Group, "plugin", f.Policy, "file", file, "reason", f.Reason, "err", err,
		"memory_limit_mib", m.rt.policyMemoryLimit(b.cap) >> 20}
	m.log.Error("policy failed; the native LRU serves the group until a new version of the plugin is loaded or the group is given a policy again",
		append(attrs, panicAttrs(err)...)...)
	m.rt.failures.record(f.Policy, Failure{Reason: f.Reason, Err: err, At: f.At, Group: f.Group})
	m.fallback(b, "failed")
	m.installLocked(b, nil)
	m.setFailedLocked(b, f)
}

// setFailedLocked sets b's failure (nil: none) and tells the state hook
// when it changes.
func (m *Manager) setFailedLocked(b *policyBinding, f *PolicyFailure) {
	if b.failed == nil && f == nil {
		return
	}
	b.failed = f
	if f != nil {
		m.rt.failedGroups.Store(b.group.Name(), f.Policy)
	} else {
		m.rt.failedGroups.Delete(b.group.Name())
	}
	if m.onState != nil {
		m.onState(b.group.Name(), f)
	}
}

// OnPolicyState sets fn to be called when a group's policy instance fails
// (with the failure) and when a policy is installed in a group that had
// failed (with nil). fn is called with the manager's lock held: it must
// return quickly and must not call the manager. Set it before binding
// groups; a node uses it for its readiness.
func (m *Manager) OnPolicyState(fn func(group string, failed *PolicyFailure)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.onState = fn
}

// PolicyFailures returns the groups whose policy instance failed, sorted
// by group.
func (m *Manager) PolicyFailures() []PolicyFailure {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []PolicyFailure
	for _, b := range m.policies {
		if b.failed != nil {
			out = append(out, *b.failed)
		}
	}
	slices.SortFunc(out, func(a, b PolicyFailure) int { return strings.Compare(a.Group, b.Group) })
	return out
}

func (m *Manager) fallback(b *policyBinding, reason string) {
	m.rt.metrics.fallbacks.Add(context.Background(), 1, metric.WithAttributes(
		attribute.String("group", b.group.Name()), attribute.String("reason", reason)))
}

// BindPolicy gives group g the policy plugin name for a capacity of
// capacity bytes. If the plugin is not loaded (or is not a policy) the
// native LRU serves, with a warning and a metric, until it is.
func (m *Manager) BindPolicy(ctx context.Context, g *cache.Group, name string, capacity int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	b := &policyBinding{group: g, want: name, cap: capacity}
	old := m.policies[g.Name()]
	if old != nil {
		b.current, b.failed = old.current, old.failed
	}
	m.policies[g.Name()] = b
	if old != nil && old.want != name {
		m.setFailedLocked(b, nil) // the failure was another policy's
	}
	v := m.loaded[name]
	if v == nil && m.queued[name] != nil {
		m.log.Info("policy plugin still compiling; the native LRU serves until it is ready",
			"group", g.Name(), "policy", name)
		m.fallback(b, "compiling")
		m.installLocked(b, nil)
		return nil
	}
	if v == nil || v.mod.kind != KindPolicy {
		m.log.Warn("policy plugin not loaded; using the native LRU until it is",
			"group", g.Name(), "policy", name, "file", filepath.Join(m.dir, name+".wasm"))
		m.fallback(b, "missing")
		m.installLocked(b, nil)
		return nil
	}
	p, err := v.mod.NewPolicy(ctx, capacity)
	if err != nil {
		m.rt.countFailure(name, reasonOf(err))
		m.failLocked(b, v.mod.file, err)
		return err
	}
	m.installLocked(b, p)
	return nil
}

// SetGroupPolicy switches group to the loaded policy plugin name.
func (m *Manager) SetGroupPolicy(ctx context.Context, group, name string) error {
	m.mu.Lock()
	b := m.policies[group]
	v := m.loaded[name]
	m.mu.Unlock()
	switch {
	case b == nil:
		return fmt.Errorf("%w: group %q", ErrUnknown, group)
	case v == nil || v.mod.kind != KindPolicy:
		return fmt.Errorf("%w: policy plugin %q is not loaded", ErrUnknown, name)
	}
	return m.BindPolicy(ctx, b.group, name, b.cap)
}

// ErrUnknown is returned for a group or plugin the manager does not know.
var ErrUnknown = errors.New("unknown")

// Loader returns the loader of group, backed by the plugin name. Until the
// plugin is loaded its calls fail with [ErrNotLoaded].
func (m *Manager) Loader(group, name string, cfg LoaderConfig) (*GroupLoader, error) {
	l, err := newGroupLoader(name, group, cfg)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.loaders[name] = append(m.loaders[name], l)
	if v := m.loaded[name]; v != nil && v.pool != nil {
		l.pool.Store(v.pool)
	} else if m.queued[name] != nil {
		m.log.Info("loader plugin still compiling; its group's misses fail until it is ready (see Await)",
			"group", group, "loader", name)
	} else {
		m.log.Warn("loader plugin not loaded; its group's misses fail until it is",
			"group", group, "loader", name, "file", filepath.Join(m.dir, name+".wasm"))
	}
	return l, nil
}

// Plugins lists the loaded plugins, sorted by name.
func (m *Manager) Plugins() []Info {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Info
	for name, v := range m.loaded {
		rec := m.rt.failures.get(name)
		info := Info{Name: name, Kind: v.mod.kind, SHA256: v.mod.sha256, Origin: v.origin, File: v.path,
			ABIVersion: ABIVersion, LoadedAt: v.loadedAt, State: StateServing, Failures: rec.count}
		if rec.count > 0 {
			info.LastFailure = &rec.last
		}
		if rec.failing && v.mod.kind == KindLoader {
			info.State = StateFailed
		}
		for g, b := range m.policies {
			switch {
			case b.want == name && b.current != nil:
				info.Groups = append(info.Groups, g)
			case b.want == name && b.failed != nil:
				info.Failed = append(info.Failed, *b.failed)
			}
		}
		slices.SortFunc(info.Failed, func(a, b PolicyFailure) int { return strings.Compare(a.Group, b.Group) })
		if len(info.Failed) > 0 {
			info.State = StateFailed
		}
		for _, l := range m.loaders[name] {
			info.Groups = append(info.Groups, l.group)
		}
		slices.Sort(info.Groups)
		out = append(out, info)
	}
	slices.SortFunc(out, func(a, b Info) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Close closes every policy instance and loader pool the manager started
// and releases every module; its loaders then fail with [ErrNotLoaded].
func (m *Manager) Close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, b := range m.policies {
		if b.current != nil {
			b.current.Close()
		}
	}
	for _, ls := range m.loaders {
		for _, l := range ls {
			l.pool.Store(nil)
		}
	}
	for name, v := range m.loaded {
		v.release(context.Background())
		delete(m.loaded, name)
	}
}
