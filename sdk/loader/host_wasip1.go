//go:build wasip1

package loader

import (
	"errors"
	"time"
	"unsafe"
)

//go:wasmimport distcache log
func hostLog(level int32, ptr unsafe.Pointer, n int32)

//go:wasmimport distcache now
func hostNow() int64

//go:wasmimport distcache sql_query
func hostSQLQuery(query unsafe.Pointer, queryLen int32, args unsafe.Pointer, argsLen int32) int32

//go:wasmimport distcache sql_dialect
func hostSQLDialect() int32

//go:wasmimport distcache http_get
func hostHTTPGet(url unsafe.Pointer, urlLen int32) int32

//go:wasmimport distcache result
func hostResult(ptr unsafe.Pointer, n int32) int32

// Log writes msg to the node's log at level, one of slog's: -4 debug,
// 0 info, 4 warn, 8 error.
func Log(level int32, msg string) {
	hostLog(level, unsafe.Pointer(unsafe.StringData(msg)), int32(len(msg)))
}

// Now returns the node's wall clock (WASI's clock is fake inside a node).
func Now() time.Time { return time.Unix(0, hostNow()) }

// Query runs a read-only SQL query with args (strings, []byte as TEXT,
// numbers, bools, nil, and [Blob] as a BLOB) on the group's database (the
// node's SQLite file, or the shared database the group's loader names;
// [SQLDialect] says which) in a read-only transaction, and returns its
// rows. Numbers come back as json.Number, text as string, BLOB and BYTEA
// as []byte (byte for byte), NULL as nil, a PostgreSQL BOOLEAN as bool.
// A result of more than 10,000 rows, or over a quarter of the plugin
// memory cap as JSON, is an error.
func Query(sql string, args ...any) ([][]any, error) {
	a, err := encodeArgs(args)
	if err != nil {
		return nil, err
	}
	n := hostSQLQuery(unsafe.Pointer(unsafe.StringData(sql)), int32(len(sql)),
		unsafe.Pointer(unsafe.SliceData(a)), int32(len(a)))
	if n < 0 {
		return nil, errors.New("loader: query: " + string(pending(-n)))
	}
	return decodeRows(pending(n))
}

// SQLDialect returns the kind of database [Query] reads for this call's
// group: [DialectSQLite], [DialectPostgres] or [DialectMySQL], or "" when
// the node has none. Write placeholders and identifier quotes for it.
func SQLDialect() string { return dialectOf(hostSQLDialect()) }

// HTTPGet fetches url with GET and returns the response's status and body.
// The URL, and every redirect, must match an entry of the loader's
// http_allow list: the same scheme, host and port, and a path under the
// entry's. Any other URL, a failed request, no response within the node's
// http_get timeout (5 s by default), or a body over 8 MiB (or a quarter of
// the plugin memory cap) is an error.
func HTTPGet(url string) (status int, body []byte, err error) {
	s := hostHTTPGet(unsafe.Pointer(unsafe.StringData(url)), int32(len(url)))
	if s < 0 {
		return 0, nil, errors.New("loader: http_get: " + string(pending(-s)))
	}
	return int(s), pendingUnsized(), nil
}

// pending copies the host's pending result of n bytes.
func pending(n int32) []byte {
	b := make([]byte, n)
	if n > 0 {
		b = b[:hostResult(unsafe.Pointer(unsafe.SliceData(b)), n)]
	}
	return b
}

// pendingUnsized copies a pending result whose length the host did not
// say (an HTTP body): result with a zero length returns the whole length.
func pendingUnsized() []byte {
	return pending(hostResult(nil, 0))
}
