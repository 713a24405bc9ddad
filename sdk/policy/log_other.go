//go:build !wasip1

package policy

import (
	"os"
	"strconv"
)

// Log writes msg to the node's log at level, one of slog's: -4 debug,
// 0 info, 4 warn, 8 error. Outside WebAssembly it writes a line to stderr.
// Log is for rare events: a policy runs on the cache's hot path.
func Log(level int32, msg string) {
	// A failed write to stderr has nowhere better to go.
	_, _ = os.Stderr.WriteString("policy log level=" + strconv.Itoa(int(level)) + " " + msg + "\n")
}
