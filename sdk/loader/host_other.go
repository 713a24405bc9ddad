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

// Query runs a read-only SQL query with args (strings, []byte as TEXT,
// numbers, bools, nil, and [Blob] as a BLOB) on the group's database (the
// node's SQLite file, or the shared database the group's loader names;
// [SQLDialect] says which) in a read-only transaction, and returns its
// rows. Numbers come back as json.Number, text as string, BLOB and BYTEA
// as []byte (byte for byte), NULL as nil, a PostgreSQL BOOLEAN as bool.
// A result of more than 10,000 rows, or over a quarter of the plugin
// memory cap as JSON, is an error.
// Outside WebAssembly it returns [ErrNoHost].
func Query(sql string, args ...any) ([][]any, error) {
	if _, err := encodeArgs(args); err != nil {
		return nil, err
	}
	return nil, ErrNoHost
}

// SQLDialect returns the kind of database [Query] reads for this call's
// group: [DialectSQLite], [DialectPostgres] or [DialectMySQL], or "" when
// the node has none. Outside WebAssembly it returns "".
func SQLDialect() string { return "" }

// HTTPGet fetches url with GET and returns the response's status and body.
// The URL, and every redirect, must match an entry of the loader's
// http_allow list: the same scheme, host and port, and a path under the
// entry's. Any other URL, a failed request, no response within the node's
// http_get timeout (5 s by default), or a body over 8 MiB (or a quarter of
// the plugin memory cap) is an error. Outside
// WebAssembly it returns [ErrNoHost].
func HTTPGet(url string) (status int, body []byte, err error) {
	return 0, nil, ErrNoHost
}
