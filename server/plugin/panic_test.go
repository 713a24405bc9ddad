package plugin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/distcache/distcache/server/cache"
)

// record is one slog record as a test sees it.
type record struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

func (r record) String() string { return fmt.Sprintf("%v %q %v", r.level, r.msg, r.attrs) }

// logRecorder is a slog handler that keeps every record.
type logRecorder struct {
	mu      sync.Mutex
	records []record
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *logRecorder) WithGroup(string) slog.Handler            { return h }

func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	rec := record{level: r.Level, msg: r.Message, attrs: map[string]string{}}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs[a.Key] = a.Value.String()
		return true
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, rec)
	return nil
}

// all returns the records kept so far.
func (h *logRecorder) all() []record {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]record(nil), h.records...)
}

// at returns the records at level.
func (h *logRecorder) at(level slog.Level) []record {
	var out []record
	for _, r := range h.all() {
		if r.level == level {
			out = append(out, r)
		}
	}
	return out
}

// output returns the text of the "plugin output" records.
func (h *logRecorder) output() []string {
	var out []string
	for _, r := range h.all() {
		if r.msg == "plugin output" {
			out = append(out, r.attrs["text"])
		}
	}
	return out
}

// recordingRuntime is a runtime whose logs go to a logRecorder.
func recordingRuntime(t *testing.T) (*Runtime, *logRecorder) {
	t.Helper()
	rec := &logRecorder{}
	// A generous call timeout: a deadline under a loaded race run would
	// cut the guest short before it panics.
	rt, err := NewRuntime(context.Background(), Config{CacheDir: sharedCacheDir(t), Logger: slog.New(rec),
		PolicyCallTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(context.Background()) })
	return rt, rec
}

// checkPanicRecord checks that the logs hold exactly one ERROR record,
// that it carries the guest's panic message and a frame of its stack
// with the attributes want, and that no piece of the crash report was
// logged as plugin output.
func checkPanicRecord(t *testing.T, rec *logRecorder, message, frame string, want map[string]string) {
	t.Helper()
	errs := rec.at(slog.LevelError)
	if len(errs) != 1 {
		t.Fatalf("%d records at ERROR, want 1: %v", len(errs), rec.all())
	}
	e := errs[0]
	if e.attrs["panic"] != message {
		t.Errorf("panic = %q, want %q (record %v)", e.attrs["panic"], message, e)
	}
	if !strings.Contains(e.attrs["stack"], "goroutine ") || !strings.Contains(e.attrs["stack"], frame) {
		t.Errorf("stack does not name %s:\n%s", frame, e.attrs["stack"])
	}
	if !strings.Contains(e.attrs["err"], "panic: "+message) {
		t.Errorf("err = %q, want it to end with the panic", e.attrs["err"])
	}
	for k, v := range want {
		if e.attrs[k] != v {
			t.Errorf("%s = %q, want %q (record %v)", k, e.attrs[k], v, e)
		}
	}
	for _, text := range rec.output() {
		if strings.Contains(text, message) || strings.Contains(text, "goroutine") || strings.Contains(text, frame) {
			t.Errorf("a piece of the crash report logged as plugin output: %q", text)
		}
	}
}

// TestPolicyPanicIsOneErrorRecord: a Go policy that panics inside an
// update prints its report to stderr a few bytes a write, then traps.
// The log holds one ERROR record with the message and the stack, not the
// report cut into INFO lines; output not followed by a trap stays INFO,
// a line a record.
func TestPolicyPanicIsOneErrorRecord(t *testing.T) {
	rt, rec := recordingRuntime(t)
	dir := t.TempDir()
	path := writeModule(t, dir, "bad", buildWasm(t, "server/plugin/testdata/badpolicy"))
	m := NewManager(rt, dir)
	if err := m.LoadAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	g, err := cache.NewGroup(cache.Config{Name: "g", Capacity: 4000})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close(); m.Close() })
	if err := m.BindPolicy(context.Background(), g, "bad", 4000); err != nil {
		t.Fatal(err)
	}

	// Output that looks like a crash report but is not followed by a trap
	// is logged at INFO, once the call returns, a line a record.
	setCost(t, g, "talk", 555)
	for i := range 20 {
		setCost(t, g, fmt.Sprint("a", i), 300)
	}
	wantOut := []string{"badpolicy: saw 555", "panic: not really, badpolicy goes on", "badpolicy: still here"}
	if got := rec.output(); strings.Join(got, "|") != strings.Join(wantOut, "|") {
		t.Fatalf("plugin output = %q, want %q", got, wantOut)
	}
	if errs := rec.at(slog.LevelError); len(errs) != 0 {
		t.Fatalf("records at ERROR before the panic: %v", errs)
	}

	setCost(t, g, "trigger", 666)
	for i := range 20 {
		setCost(t, g, fmt.Sprint("b", i), 300)
	}
	waitFor(t, "the native LRU fallback", func() bool { return len(rec.at(slog.LevelError)) > 0 })
	checkPanicRecord(t, rec, "badpolicy: trap on purpose", "main.policyUpdate",
		map[string]string{"plugin": "bad", "group": "g", "file": path, "reason": reasonTrap})
	if got := rec.output(); len(got) != len(wantOut) {
		t.Errorf("plugin output after the panic = %q", got[len(wantOut):])
	}

	// ListPlugins' source says the same.
	info := m.Plugins()
	if len(info) != 1 || info[0].State != StateFailed || info[0].Failures != 1 || info[0].LastFailure == nil {
		t.Fatalf("Plugins() = %+v, want bad failed once", info)
	}
	var gp *GuestPanic
	if f := info[0].LastFailure; !errors.As(f.Err, &gp) || gp.Message != "badpolicy: trap on purpose" || f.Group != "g" || f.At.IsZero() {
		t.Errorf("last failure = %+v", f)
	}
}

// TestLoaderPanicIsOneErrorRecord is the same for a loader's call: the
// instance is discarded, the call fails, and the log has one ERROR record
// with the panic.
func TestLoaderPanicIsOneErrorRecord(t *testing.T) {
	rt, rec := recordingRuntime(t)
	dir := t.TempDir()
	path := writeModule(t, dir, "raw", buildWasm(t, "server/plugin/testdata/rawloader"))
	m := NewManager(rt, dir)
	if err := m.LoadAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	l, err := m.Loader("g", "raw", LoaderConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Load(context.Background(), "boom"); err == nil {
		t.Fatal("Load(boom) succeeded")
	}
	checkPanicRecord(t, rec, "rawloader: boom", "main.load",
		map[string]string{"plugin": "raw", "group": "g", "file": path, "reason": reasonTrap})
	if info := m.Plugins(); info[0].State != StateFailed || info[0].Failures != 1 {
		t.Errorf("Plugins() after the panic = %+v, want raw failed", info)
	}
	// The next call starts a fresh instance; a call that succeeds ends
	// the failed state, and the failure is still counted.
	if _, err := l.Load(context.Background(), "k"); err != nil {
		t.Fatal(err)
	}
	if info := m.Plugins(); info[0].State != StateServing || info[0].Failures != 1 || info[0].LastFailure == nil {
		t.Errorf("Plugins() after a call that succeeded = %+v, want raw serving, one failure", info)
	}
}

// TestStartPanicIsOneErrorRecord: a module whose init panics is refused
// with one ERROR record that carries the panic.
func TestStartPanicIsOneErrorRecord(t *testing.T) {
	rt, rec := recordingRuntime(t)
	dir := t.TempDir()
	path := writeModule(t, dir, "initpanic", buildWasm(t, "server/plugin/testdata/initpanic"))
	m := NewManager(rt, dir)
	t.Cleanup(m.Close)
	if err := m.Reload(context.Background(), path); err == nil {
		t.Fatal("a module whose init panics was loaded")
	}
	checkPanicRecord(t, rec, "initpanic: refusing to start", "main.init",
		map[string]string{"plugin": "initpanic", "file": path, "reason": reasonInvalid})
}

// TestGuestOutputLines feeds a stream the way the Go runtime writes a
// crash report, a few bytes a write.
func TestGuestOutputLines(t *testing.T) {
	rec := &logRecorder{}
	w := &guestOutput{log: slog.New(rec), plugin: "p", reports: true}
	for _, s := range []string{"hel", "lo\nwor", "ld\n", "pan", "ic: ", "boom", "\n", "\n", "gorout", "ine 1 [running]:\nmain.f()\n\t/x.go:3", "\n"} {
		w.Write([]byte(s))
	}
	if got := rec.output(); strings.Join(got, "|") != "hello|world" {
		t.Fatalf("lines before the report = %q", got)
	}
	trap := errors.New("module closed with exit_code(2)")
	err := w.endCall(trap)
	var gp *GuestPanic
	if !errors.As(err, &gp) || !errors.Is(err, trap) {
		t.Fatalf("endCall = %v, want a GuestPanic wrapping the trap", err)
	}
	if gp.Message != "boom" || gp.Head != "panic: boom" || gp.Stack != "goroutine 1 [running]:\nmain.f()\n\t/x.go:3" {
		t.Errorf("GuestPanic = %#v", gp)
	}
	if got := err.Error(); got != "panic: boom (module closed with exit_code(2))" {
		t.Errorf("Error() = %q", got)
	}

	// Without a trap, a held report is plain output after all; a line
	// left open is logged at the end of the call.
	w.Write([]byte("fatal error: no\nafter\nopen"))
	if err := w.endCall(nil); err != nil {
		t.Fatal(err)
	}
	if got := rec.output(); strings.Join(got[2:], "|") != "fatal error: no|after|open" {
		t.Errorf("lines of a call that returned = %q", got[2:])
	}

	// A report is held up to its bound, and a line longer than the bound
	// is logged in pieces.
	w.Write([]byte("panic: big\n"))
	for range 100 {
		w.Write([]byte(strings.Repeat("x", 1<<10) + "\n"))
	}
	if err := w.endCall(trap); !errors.As(err, &gp) || len(gp.Stack) > maxGuestOutput+100 || !strings.HasSuffix(gp.Stack, "(cut at 64 KiB)") {
		t.Errorf("a report past the bound: %d bytes of stack, err %v", len(gp.Stack), err)
	}
	n := len(rec.output())
	w.Write(make([]byte, maxGuestOutput+10))
	w.endCall(nil)
	if got := rec.output()[n:]; len(got) != 2 || len(got[0]) != maxGuestOutput || len(got[1]) != 10 {
		t.Errorf("a line past the bound was logged in %d pieces", len(got))
	}
}
