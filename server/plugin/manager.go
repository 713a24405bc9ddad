package plugin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
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
	Name       string
	Kind       Kind
	SHA256     string
	ABIVersion int
	LoadedAt   time.Time
	Groups     []string // groups using it, sorted
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
}

// version is one loaded module of a plugin name.
type version struct {
	mod      *Module
	loadedAt time.Time
	pool     *loaderPool // loaders only
}

// policyBinding is a group's wish for a policy and what it runs now.
type policyBinding struct {
	group   *cache.Group
	want    string
	cap     int64
	current *Policy // nil while the native LRU serves
}

// NewManager returns a manager of dir's plugins on rt. Call LoadAll, bind
// the groups, then Watch.
func NewManager(rt *Runtime, dir string) *Manager {
	return &Manager{rt: rt, dir: dir, log: rt.log,
		loaded: map[string]*version{}, policies: map[string]*policyBinding{}, loaders: map[string][]*GroupLoader{}}
}

// LoadAll compiles every *.wasm in the directory. A file that is refused is
// logged and counted; it does not stop the others. A missing directory is
// created.
func (m *Manager) LoadAll(ctx context.Context) error {
	if err := os.MkdirAll(m.dir, 0o755); err != nil {
		return fmt.Errorf("plugins directory: %w", err)
	}
	paths, err := filepath.Glob(filepath.Join(m.dir, "*.wasm"))
	if err != nil {
		return err
	}
	for _, p := range paths {
		_ = m.Reload(ctx, p) // refusals are logged and counted
	}
	return nil
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
// every group that uses its name. If it is not, the error is logged with
// the file and the reason, counted, and returned; the previous version
// keeps serving. Reloading an unchanged file does nothing.
func (m *Manager) Reload(ctx context.Context, path string) error {
	name, err := nameOf(path)
	if err != nil {
		m.rt.failure(filepath.Base(path), reasonInvalid, err)
		return err
	}
	wasm, err := readModule(ctx, path, m.rt.cfg.MaxModuleBytes)
	if err != nil {
		reason, fe := reasonRead, (*fileError)(nil)
		if errors.As(err, &fe) {
			reason = reasonFile
		}
		m.rt.failure(name, reason, err)
		return err
	}
	if old := m.current(name); old != nil && old.mod.sha256 == sha256hex(wasm) {
		return nil
	}
	mod, err := m.rt.Compile(ctx, name, wasm)
	if err != nil {
		err = fmt.Errorf("%s refused: %w", path, err)
		m.rt.failure(name, reasonInvalid, err)
		return err
	}
	if err := m.swap(ctx, mod); err != nil {
		m.rt.failure(name, reasonOf(err), fmt.Errorf("%s: %w", path, err))
		return errors.Join(err, mod.Close(ctx))
	}
	m.log.Info("plugin loaded", "plugin", name, "file", path, "kind", mod.kind,
		"sha256", mod.sha256, "compile", mod.CompileTime)
	m.rt.metrics.loads.Add(ctx, 1, metric.WithAttributes(attribute.String("plugin", name)))
	return nil
}

func (m *Manager) current(name string) *version {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.loaded[name]
}

// swap makes mod the current version of its name. Every group using it
// gets a new policy instance first; if any fails to start, nothing changes.
// The version replaced is released: its module's code goes when its last
// instance does (a loader's busy instances close as their calls end).
func (m *Manager) swap(ctx context.Context, mod *Module) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if old := m.loaded[mod.name]; old != nil && old.mod.kind != mod.kind {
		return fmt.Errorf("%s was a %s and is now a %s: remove it first", mod.name, old.mod.kind, mod.kind)
	}
	v := &version{mod: mod, loadedAt: time.Now()}
	switch mod.kind {
	case KindPolicy:
		if err := m.swapPolicies(ctx, mod); err != nil {
			return err
		}
	case KindLoader:
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
// the policy it replaces.
func (m *Manager) installLocked(b *policyBinding, p *Policy) {
	var next cache.Policy = cache.NewLRU()
	if p != nil {
		p.OnFailure = m.policyFailed
		next = p
	}
	b.group.SetPolicy(next)
	if b.current != nil {
		b.current.Close()
	}
	b.current = p
}

// policyFailed puts the native LRU in place of a policy instance that
// trapped or hung, if it is still the group's.
func (m *Manager) policyFailed(p *Policy, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, b := range m.policies {
		if b.current == p {
			m.log.Warn("policy failed; the native LRU serves the group until a good module arrives",
				"group", b.group.Name(), "policy", b.want, "err", err)
			m.fallback(b, "failed")
			m.installLocked(b, nil)
		}
	}
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
	if old := m.policies[g.Name()]; old != nil {
		b.current = old.current
	}
	m.policies[g.Name()] = b
	v := m.loaded[name]
	if v == nil || v.mod.kind != KindPolicy {
		m.log.Warn("policy plugin not loaded; using the native LRU until it is",
			"group", g.Name(), "policy", name, "file", filepath.Join(m.dir, name+".wasm"))
		m.fallback(b, "missing")
		m.installLocked(b, nil)
		return nil
	}
	p, err := v.mod.NewPolicy(ctx, capacity)
	if err != nil {
		m.rt.failure(name, reasonOf(err), err)
		m.fallback(b, "failed")
		m.installLocked(b, nil)
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
func (m *Manager) Loader(group, name string, settings map[string]string, httpAllow []string) (*GroupLoader, error) {
	l, err := newGroupLoader(name, group, settings, httpAllow)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.loaders[name] = append(m.loaders[name], l)
	if v := m.loaded[name]; v != nil && v.pool != nil {
		l.pool.Store(v.pool)
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
		info := Info{Name: name, Kind: v.mod.kind, SHA256: v.mod.sha256, ABIVersion: ABIVersion, LoadedAt: v.loadedAt}
		for g, b := range m.policies {
			if b.want == name && b.current != nil {
				info.Groups = append(info.Groups, g)
			}
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
