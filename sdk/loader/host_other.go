//go:build !wasip1

package loader

import (
	"os"
	"strconv"
	"time"
)

// Log writes msg to the node's log at level, one of slog's: -4 debug,
// 0 info, 4 warn, 8 error. Outside WebAssembly it writes a line to stderr.
func Log(level int32, msg string) {
	// A failed write to stderr has nowhere better to go.
	_, _ = os.Stderr.WriteString("loader log level=" + strconv.Itoa(int(level)) + " " + msg + "\n")
}

// Now returns the node's wall clock (WASI's clock is fake inside a node).
// Outside WebAssembly it is time.Now.
func Now() time.Time { return time.Now() }

// Query runs a read-only SQL query with args (strings, []byte, numbers,
// bools and nil) on the node's embedded SQLite database and returns its
// rows. Numbers come back as json.Number, TEXT and BLOB as string, NULL as
// nil. Outside WebAssembly it returns [ErrNoHost].
func Query(sql string, args ...any) ([][]any, error) {
	if _, err := encodeArgs(args); err != nil {
		return nil, err
	}
	return nil, ErrNoHost
}

// HTTPGet fetches url with GET and returns the response's status and body
// (at most 8 MiB). Only URLs under the loader's http_allow prefixes are
// allowed; any other, or a failed request, is an error. Outside
// WebAssembly it returns [ErrNoHost].
func HTTPGet(url string) (status int, body []byte, err error) {
	return 0, nil, ErrNoHost
}
