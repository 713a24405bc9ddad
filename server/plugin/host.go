package plugin

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/tetratelabs/wazero/api"
)

// hostModule is the import module name of the distcache host functions.
const hostModule = "distcache"

// callState is what the host functions of one guest call work on. It
// travels in the call's context.
type callState struct {
	plugin string
	// Loader calls only:
	value     []byte
	hasValue  bool
	ttl       time.Duration
	errMsg    string
	pending   []byte
	httpAllow []string
	sql       *SQLSource // nil: the runtime's Config.DB
}

type callStateKey struct{}

func withCallState(ctx context.Context, s *callState) context.Context {
	return context.WithValue(ctx, callStateKey{}, s)
}

func stateOf(ctx context.Context) *callState {
	if s, ok := ctx.Value(callStateKey{}).(*callState); ok {
		return s
	}
	return &callState{plugin: "unknown"}
}

func (r *Runtime) instantiateHost(ctx context.Context) error {
	b := r.rt.NewHostModuleBuilder(hostModule)
	fn := func(name string, f any) { b.NewFunctionBuilder().WithFunc(f).Export(name) }
	fn("log", r.hostLog)
	fn("now", func() int64 { return time.Now().UnixNano() })
	fn("set_value", func(ctx context.Context, m api.Module, ptr, n uint32) {
		s := stateOf(ctx)
		s.value, s.hasValue = append([]byte(nil), read(m, ptr, n)...), true
	})
	fn("set_ttl", func(ctx context.Context, ms int64) { stateOf(ctx).ttl = time.Duration(ms) * time.Millisecond })
	fn("set_error", func(ctx context.Context, m api.Module, ptr, n uint32) { stateOf(ctx).errMsg = string(read(m, ptr, n)) })
	fn("sql_query", r.hostSQLQuery)
	fn("sql_dialect", r.hostSQLDialect)
	fn("http_get", newHTTPGetter(r.cfg).hostHTTPGet)
	fn("result", func(ctx context.Context, m api.Module, ptr, n uint32) uint32 {
		s := stateOf(ctx)
		if n == 0 {
			return uint32(len(s.pending)) // the size to allocate
		}
		k := min(n, uint32(len(s.pending)))
		if !m.Memory().Write(ptr, s.pending[:k]) {
			panic(fmt.Errorf("result: [%d, %d) is outside the guest's memory", ptr, ptr+k))
		}
		return k
	})
	_, err := b.Instantiate(ctx)
	return err
}

// read returns a copy-free view of guest memory, trapping the guest on an
// out-of-range pointer.
func read(m api.Module, ptr, n uint32) []byte {
	b, ok := m.Memory().Read(ptr, n)
	if !ok {
		panic(fmt.Errorf("[%d, %d) is outside the guest's memory", ptr, ptr+n))
	}
	return b
}

func (r *Runtime) hostLog(ctx context.Context, m api.Module, level int32, ptr, n uint32) {
	r.log.Log(ctx, slog.Level(level), string(read(m, ptr, n)), "plugin", stateOf(ctx).plugin)
}

// setPending stores a result for `result` and returns what the guest is
// told: n on success, minus the message length on failure.
func (s *callState) setPending(b []byte, err error) int32 {
	if err != nil {
		s.pending = []byte(err.Error())
		return -int32(len(s.pending))
	}
	s.pending = b
	return int32(len(b))
}
