//go:build wasip1

package policy

import "unsafe"

//go:wasmimport distcache log
func hostLog(level int32, ptr unsafe.Pointer, n int32)

// Log writes msg to the node's log at level, one of slog's: -4 debug,
// 0 info, 4 warn, 8 error. Outside WebAssembly it writes to stderr. Log
// is for rare events: a policy runs on the cache's hot path.
func Log(level int32, msg string) {
	hostLog(level, unsafe.Pointer(unsafe.StringData(msg)), int32(len(msg)))
}
