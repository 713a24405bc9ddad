package plugin

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"sync"
)

// maxGuestOutput bounds what is kept of one stream of one instance at a
// time: the line being written, and a crash report held until its call
// ends. Past it a line is logged in pieces and a report is cut short.
const maxGuestOutput = 64 << 10

// guestIO is the stdout and stderr of one instance. A guest's output is
// logged at INFO a line at a time ("plugin output"), except a crash report
// on stderr: the Go runtime writes "panic: ..." or "fatal error: ..." and
// every goroutine's stack, a few bytes a write, then exits, which traps the
// call. From such a line on, stderr is held until the call ends: if it
// trapped, the report becomes the panic and stack of the one ERROR record
// that tells of the failure ([GuestPanic]); if it returned, the lines are
// logged at INFO after all.
type guestIO struct {
	stdout, stderr *guestOutput
}

func newGuestIO(log *slog.Logger, plugin string) *guestIO {
	return &guestIO{
		stdout: &guestOutput{log: log, plugin: plugin},
		stderr: &guestOutput{log: log, plugin: plugin, reports: true},
	}
}

// endCall is called after every call into the instance (its start
// included) with the call's error. It logs what is pending and returns
// err, wrapped in a [*GuestPanic] when the call trapped after the guest
// printed a crash report.
func (g *guestIO) endCall(err error) error {
	g.stdout.endCall(nil)
	return g.stderr.endCall(err)
}

// guestOutput is one stream of one instance. Calls into an instance do
// not overlap, but the mutex keeps a misbehaving host from racing.
type guestOutput struct {
	log     *slog.Logger
	plugin  string
	reports bool // look for crash reports (stderr)

	mu      sync.Mutex
	line    []byte // the line being written
	held    []byte // a crash report, held until the call ends
	holding bool
	cut     bool // the report was longer than maxGuestOutput
}

// crashStarts are how the lines that begin a Go runtime crash report start.
var crashStarts = []string{"panic: ", "fatal error: "}

func (w *guestOutput) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			room := max(maxGuestOutput-len(w.line), 0)
			if len(p) <= room {
				w.line = append(w.line, p...)
				break
			}
			w.line = append(w.line, p[:room]...)
			p = p[room:]
			w.endLine() // a line too long is logged in pieces
			continue
		}
		w.line = append(w.line, p[:i]...)
		p = p[i+1:]
		w.endLine()
	}
	return n, nil
}

// endLine logs or holds the line written so far. w.mu is held.
func (w *guestOutput) endLine() {
	if w.reports && !w.holding {
		for _, s := range crashStarts {
			w.holding = w.holding || bytes.HasPrefix(w.line, []byte(s))
		}
	}
	if w.holding {
		w.hold(w.line)
	} else {
		w.info(w.line)
	}
	w.line = w.line[:0]
}

func (w *guestOutput) hold(line []byte) {
	if len(w.held)+len(line)+1 > maxGuestOutput {
		w.cut = true
		return
	}
	w.held = append(append(w.held, line...), '\n')
}

func (w *guestOutput) info(line []byte) {
	w.log.Info("plugin output", "plugin", w.plugin, "text", string(line))
}

func (w *guestOutput) endCall(err error) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.line) > 0 {
		if w.holding {
			w.hold(w.line)
		} else {
			w.info(w.line)
		}
		w.line = w.line[:0]
	}
	if !w.holding {
		return err
	}
	report, cut := string(w.held), w.cut
	w.held, w.holding, w.cut = w.held[:0], false, false
	if err == nil {
		for l := range strings.Lines(report) {
			w.info([]byte(strings.TrimSuffix(l, "\n")))
		}
		return nil
	}
	gp := &GuestPanic{Err: err}
	gp.Head, gp.Stack = splitReport(report)
	gp.Message = strings.TrimPrefix(gp.Head, "panic: ")
	if cut {
		gp.Stack += "\n... (cut at 64 KiB)"
	}
	return gp
}

// splitReport splits a Go crash report into its head (the panic's
// message, or the fatal error) and the stacks that follow.
func splitReport(report string) (head, stack string) {
	i := strings.Index(report, "\ngoroutine ")
	if i < 0 {
		i = strings.Index(report, "\n\n")
	}
	if i < 0 {
		return strings.TrimSpace(report), ""
	}
	return strings.TrimSpace(report[:i]), strings.TrimSpace(report[i+1:])
}

// GuestPanic is the error of a guest call that trapped after the guest
// printed a Go crash report on its stderr, a panic's or a fatal error's:
// the report is in it rather than in the log's plugin output lines.
type GuestPanic struct {
	// Err is the trap (the exit the Go runtime makes after its report).
	Err error
	// Head is the report's first part as printed, such as
	// "panic: index out of range [3] with length 3" or
	// "fatal error: out of memory".
	Head string
	// Message is Head without "panic: ".
	Message string
	// Stack is the rest of the report: every goroutine's stack.
	Stack string
}

// Error returns the head of the report and the trap's first line (the
// rest of it is wazero's trace of the wasm stack, which Stack says better).
func (e *GuestPanic) Error() string {
	trap, _, _ := strings.Cut(e.Err.Error(), "\n")
	return e.Head + " (" + trap + ")"
}
func (e *GuestPanic) Unwrap() error { return e.Err }

// panicAttrs are the log attributes of err's crash report, if it has one:
// "panic" (the message) and "stack".
func panicAttrs(err error) []any {
	var gp *GuestPanic
	if !errors.As(err, &gp) {
		return nil
	}
	return []any{"panic", gp.Message, "stack", gp.Stack}
}
