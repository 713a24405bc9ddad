package plugin

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero/api"

	"github.com/distcache/distcache/server/cache"
)

// maxEvents is how many events the guest's buffer holds; the host calls
// the guest when it is full, or when it needs victims.
const maxEvents = 1024

const eventSize = 16

// Policy is a policy plugin instance serving one group. It implements
// [cache.Policy]: events are written straight into the guest's buffer and
// applied in one call when the buffer fills or victims are needed, so a
// hit never calls the guest. Like any cache.Policy it is called under the
// group's policy lock and is not safe for concurrent use.
//
// After a trap or a deadline the instance is closed: it names no more
// victims (the group then evicts by itself) and OnFailure is called once.
type Policy struct {
	mod    *Module
	inst   api.Module
	out    *guestIO
	update api.Function
	buf    uint32
	n      int
	stack  [3]uint64
	limit  int64 // memory cap, in bytes
	failed error
	// ctx lives as long as the instance; the runtime's watchdog cancels it
	// when a call has run past the deadline (since started, in unix ns).
	ctx     context.Context
	cancel  context.CancelFunc
	started atomic.Int64
	closed  atomic.Bool
	// OnFailure, if set, is called once, in a new goroutine, when the
	// instance fails. The manager uses it to put a fallback in its place.
	OnFailure func(*Policy, error)
}

var (
	_ cache.Policy     = (*Policy)(nil)
	_ cache.PolicyName = (*Policy)(nil)
)

// NewPolicy starts an instance of a policy module for a group of capacity
// bytes.
func (m *Module) NewPolicy(ctx context.Context, capacity int64) (*Policy, error) {
	if m.kind != KindPolicy {
		return nil, fmt.Errorf("plugin %q is a %s, not a policy", m.name, m.kind)
	}
	limit := m.rt.policyMemoryLimit(capacity)
	inst, out, err := m.instantiate(ctx, limit)
	if err != nil {
		return nil, err
	}
	p := &Policy{mod: m, inst: inst, out: out, update: inst.ExportedFunction(exportPolicyUpdate), limit: limit}
	p.ctx, p.cancel = context.WithCancel(withCallState(context.Background(), &callState{plugin: m.name}))
	if err := p.init(ctx, capacity); err != nil {
		p.cancel()
		return nil, errors.Join(err, m.drop(inst))
	}
	m.rt.watch(p)
	return p, nil
}

// init calls the guest's init and checks the event buffer it returns.
func (p *Policy) init(ctx context.Context, capacity int64) error {
	ctx, cancel := context.WithTimeout(withCallState(ctx, &callState{plugin: p.mod.name}), p.mod.rt.cfg.PolicyCallTimeout)
	defer cancel()
	res, err := p.inst.ExportedFunction(exportPolicyInit).Call(ctx, uint64(capacity), maxEvents)
	if err = p.out.endCall(err); err != nil {
		return fmt.Errorf("%s: %w", exportPolicyInit, err)
	}
	p.buf = uint32(res[0])
	if p.buf == 0 {
		return fmt.Errorf("%s returned 0: the policy refused to start", exportPolicyInit)
	}
	if _, ok := p.inst.Memory().Read(p.buf, maxEvents*eventSize); !ok {
		return fmt.Errorf("%s returned buffer %#x, which is outside the guest's memory", exportPolicyInit, p.buf)
	}
	return nil
}

// Name returns the plugin's name and the start of its SHA-256.
func (p *Policy) Name() string { return fmt.Sprintf("%s (wasm %.8s)", p.mod.name, p.mod.sha256) }

// Module returns the module the instance was made from.
func (p *Policy) Module() *Module { return p.mod }

// MemoryLimit returns the instance's memory cap in bytes (see
// [PolicyMemoryLimit]).
func (p *Policy) MemoryLimit() int64 { return p.limit }

// Err returns why the instance failed, or nil.
func (p *Policy) Err() error { return p.failed }

// Apply implements [cache.Policy].
func (p *Policy) Apply(events []cache.Event) {
	for _, ev := range events {
		if p.failed != nil {
			return
		}
		if p.n == maxEvents {
			p.call(0)
		}
		p.put(ev)
	}
}

func (p *Policy) put(ev cache.Event) {
	// The view is taken per event: a call may have grown (moved) memory.
	b, _ := p.inst.Memory().Read(p.buf+uint32(p.n*eventSize), eventSize)
	binary.LittleEndian.PutUint64(b[0:], ev.Hash)
	binary.LittleEndian.PutUint32(b[8:], uint32(min(max(ev.Cost, 0), 1<<32-1)))
	b[12], b[13], b[14], b[15] = byte(ev.Op), 0, 0, 0
	p.n++
}

// Evict implements [cache.Policy]: it applies the buffered events and asks
// for victims in one call.
func (p *Policy) Evict(need int64, dst []uint64) []uint64 {
	if p.failed != nil {
		return dst
	}
	k := p.call(need)
	if k == 0 {
		return dst
	}
	b, _ := p.inst.Memory().Read(p.buf, uint32(k)*8)
	for i := range k {
		dst = append(dst, binary.LittleEndian.Uint64(b[i*8:]))
	}
	return dst
}

// call applies the buffered events and, when need > 0, returns how many
// victims the guest wrote.
func (p *Policy) call(need int64) int {
	p.stack = [3]uint64{uint64(p.n), uint64(need), maxEvents}
	p.n = 0
	p.started.Store(time.Now().UnixNano())
	err := p.update.CallWithStack(p.ctx, p.stack[:])
	p.started.Store(0)
	if err = p.out.endCall(err); err != nil {
		p.fail(fmt.Errorf("%s: %w", exportPolicyUpdate, err))
		return 0
	}
	k := int(int32(p.stack[0]))
	if k < 0 || k > maxEvents {
		p.fail(fmt.Errorf("%s returned %d victims, want 0 to %d", exportPolicyUpdate, k, maxEvents))
		return 0
	}
	return k
}

// fail closes the instance after err. With an OnFailure hook (a manager's)
// the hook logs it, naming the group; without, it is logged here.
func (p *Policy) fail(err error) {
	p.failed = err
	if p.OnFailure != nil {
		p.mod.rt.countFailure(p.mod.name, reasonOf(err))
	} else {
		p.mod.rt.failure(p.mod.name, p.mod.file, "", reasonOf(err), err)
	}
	p.inst.Close(context.Background())
	if p.OnFailure != nil {
		go p.OnFailure(p, err)
	}
}

// Close closes the instance and drops its reference on the module (see
// [Module]). Calling it again does nothing.
func (p *Policy) Close() error {
	if p.closed.Swap(true) {
		return nil
	}
	p.mod.rt.unwatch(p)
	p.cancel()
	err := p.mod.drop(p.inst)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
