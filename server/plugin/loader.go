package plugin

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/tetratelabs/wazero/api"

	"github.com/distcache/distcache/server/cache"
)

// DefaultLoaderInstances bounds the instances of one loader version that
// run at once; further calls wait for one to come free.
const DefaultLoaderInstances = 8

// loaderPool keeps the warm instances of one loader version. An instance
// serves one call at a time. A retired pool (replaced by a newer version)
// closes instances as their calls end.
type loaderPool struct {
	mod     *Module
	slots   chan struct{}
	mu      sync.Mutex
	idle    []*loaderInstance
	retired bool
}

type loaderInstance struct {
	inst        api.Module
	out         *guestIO
	alloc, load api.Function
}

func (m *Module) newLoaderPool() *loaderPool {
	return &loaderPool{mod: m, slots: make(chan struct{}, DefaultLoaderInstances)}
}

// get returns an idle instance or starts one, waiting for a free slot.
func (p *loaderPool) get(ctx context.Context) (*loaderInstance, error) {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		li := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return li, nil
	}
	p.mu.Unlock()
	inst, out, err := p.mod.instantiate(ctx, p.mod.rt.loaderMemoryLimit())
	if err != nil {
		<-p.slots
		return nil, err
	}
	return &loaderInstance{inst: inst, out: out,
		alloc: inst.ExportedFunction(exportLoaderAlloc), load: inst.ExportedFunction(exportLoaderLoad)}, nil
}

// put returns an instance after a call; a broken one, or one of a retired
// pool, is closed.
func (p *loaderPool) put(li *loaderInstance, broken bool) {
	p.mu.Lock()
	keep := !broken && !p.retired
	if keep {
		p.idle = append(p.idle, li)
	}
	p.mu.Unlock()
	if !keep {
		p.mod.drop(li.inst)
	}
	<-p.slots
}

// retire closes the idle instances; busy ones close when their call ends.
func (p *loaderPool) retire() {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.retired = nil, true
	p.mu.Unlock()
	for _, li := range idle {
		p.mod.drop(li.inst)
	}
}

// GroupLoader is the [cache.Loader] of a group whose loader is a plugin.
// Each call runs on the plugin's current version, so a swap takes effect at
// the next call while calls in flight finish on the old one. It is safe for
// concurrent use.
type GroupLoader struct {
	plugin    string
	group     string
	settings  []byte
	httpAllow []string
	sql       *SQLSource
	pool      atomic.Pointer[loaderPool]
}

// LoaderConfig is what a group gives its loader plugin.
type LoaderConfig struct {
	// Settings are passed to the plugin on every call.
	Settings map[string]string
	// HTTPAllow lists the URL prefixes http_get may fetch; empty means
	// none.
	HTTPAllow []string
	// SQL, when set, is the database sql_query reads for this group in
	// place of the runtime's [Config.DB].
	SQL *SQLSource
}

// SQLSource is a database a group's loader reads through sql_query.
type SQLSource struct {
	// DB is the handle; the host runs every query in a read-only
	// transaction on it.
	DB *sql.DB
	// Dialect is the database's kind, which sql_dialect tells the plugin:
	// [DialectSQLite], [DialectPostgres] or [DialectMySQL].
	Dialect Dialect
}

var _ cache.Loader = (*GroupLoader)(nil)

// ErrNotLoaded is returned by a [GroupLoader] whose plugin has no valid
// module loaded.
var ErrNotLoaded = errors.New("loader plugin not loaded")

func newGroupLoader(plugin, group string, cfg LoaderConfig) (*GroupLoader, error) {
	js, err := json.Marshal(cfg.Settings)
	if err != nil {
		return nil, err
	}
	if cfg.Settings == nil {
		js = []byte("{}")
	}
	return &GroupLoader{plugin: plugin, group: group, settings: js, httpAllow: cfg.HTTPAllow, sql: cfg.SQL}, nil
}

// Load implements [cache.Loader].
func (l *GroupLoader) Load(ctx context.Context, key string) (cache.Loaded, error) {
	p := l.acquire()
	if p == nil {
		return cache.Loaded{}, fmt.Errorf("%w: %s.wasm", ErrNotLoaded, l.plugin)
	}
	defer p.mod.release(context.Background())
	li, err := p.get(ctx)
	if err != nil {
		return cache.Loaded{}, fmt.Errorf("loader %s: %w", l.plugin, err)
	}
	res, err := l.call(ctx, p, li, key)
	var bad *callError
	broken := errors.As(err, &bad)
	p.put(li, broken)
	if broken {
		p.mod.rt.failure(l.plugin, p.mod.file, l.group, bad.reason, bad.err)
		p.mod.rt.failures.setFailing(l.plugin, true)
		if ctx.Err() != nil {
			return res, fmt.Errorf("loader %s: %w (%v)", l.plugin, ctx.Err(), bad.err)
		}
	} else {
		p.mod.rt.failures.succeeded(l.plugin)
	}
	return res, err
}

// acquire returns the current pool with a reference on its module for the
// call, so that a swap meanwhile does not release the module under it; nil
// if no module is loaded. A pool whose module was released has been
// replaced already (the manager stores the new pool first), so the loop
// ends at the next look.
func (l *GroupLoader) acquire() *loaderPool {
	for {
		p := l.pool.Load()
		if p == nil || p.mod.acquire() {
			return p
		}
		if l.pool.Load() == p {
			return nil
		}
	}
}

// callError is a failure that leaves the instance unusable.
type callError struct {
	reason string
	err    error
}

func (e *callError) Error() string { return e.err.Error() }
func (e *callError) Unwrap() error { return e.err }

func (l *GroupLoader) call(ctx context.Context, p *loaderPool, li *loaderInstance, key string) (cache.Loaded, error) {
	st := &callState{plugin: l.plugin, httpAllow: l.httpAllow, sql: l.sql}
	ctx = withCallState(ctx, st)
	g, k, s := uint64(len(l.group)), uint64(len(key)), uint64(len(l.settings))
	res, err := li.alloc.Call(ctx, g+k+s)
	if err = li.out.endCall(err); err != nil {
		return cache.Loaded{}, &callError{reasonOf(err), fmt.Errorf("%s: %w", exportLoaderAlloc, err)}
	}
	ptr := res[0]
	mem := li.inst.Memory()
	if !mem.WriteString(uint32(ptr), l.group) || !mem.WriteString(uint32(ptr+g), key) || !mem.Write(uint32(ptr+g+k), l.settings) {
		return cache.Loaded{}, &callError{reasonBadCall, fmt.Errorf("%s returned %#x, too close to the end of memory", exportLoaderAlloc, ptr)}
	}
	res, err = li.load.Call(ctx, ptr, g, ptr+g, k, ptr+g+k, s)
	if err = li.out.endCall(err); err != nil {
		return cache.Loaded{}, &callError{reasonOf(err), fmt.Errorf("%s: %w", exportLoaderLoad, err)}
	}
	switch status := int32(res[0]); status {
	case 0:
		if !st.hasValue {
			return cache.Loaded{}, &callError{reasonBadCall, fmt.Errorf("%s returned found but set no value", exportLoaderLoad)}
		}
		return cache.Loaded{Value: st.value, TTL: st.ttl}, nil
	case 1:
		return cache.Loaded{}, fmt.Errorf("loader %s: %w", l.plugin, cache.ErrNotFound)
	case 2:
		return cache.Loaded{}, fmt.Errorf("loader %s: %s", l.plugin, st.errMsg)
	default:
		return cache.Loaded{}, &callError{reasonBadCall, fmt.Errorf("%s returned status %d, want 0, 1 or 2", exportLoaderLoad, status)}
	}
}

// NewLoader returns a loader for group running on this module alone (no
// swaps). The manager's loaders follow swaps; this is for tools and tests.
func (m *Module) NewLoader(group string, cfg LoaderConfig) (*GroupLoader, error) {
	if m.kind != KindLoader {
		return nil, fmt.Errorf("plugin %q is a %s, not a loader", m.name, m.kind)
	}
	l, err := newGroupLoader(m.name, group, cfg)
	if err != nil {
		return nil, err
	}
	l.pool.Store(m.newLoaderPool())
	return l, nil
}
