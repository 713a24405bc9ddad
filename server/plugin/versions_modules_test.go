package plugin

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"
)

// uleb appends v as an unsigned LEB128.
func uleb(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }

// section appends a wasm section of id holding body.
func section(b []byte, id byte, body []byte) []byte {
	b = append(b, id)
	return append(uleb(b, uint64(len(body))), body...)
}

// withVersion returns wasm with a custom section appended holding v and
// pad bytes: the same code, but a distinct module (and cache file).
func withVersion(wasm []byte, v, pad int) []byte {
	name := "distcache-test-version"
	body := uleb(nil, uint64(len(name)))
	body = append(body, name...)
	body = strconv.AppendInt(body, int64(v), 10)
	body = append(body, make([]byte, pad)...)
	return section(bytes.Clone(wasm), 0, body)
}

// tinyPolicy is the smallest valid policy module, written by hand so that
// it compiles in microseconds: ABI version 1, an event buffer at 1024, and
// no victims ever.
func tinyPolicy() []byte { return dataPolicy(0) }

// dataPolicy is tinyPolicy with a data segment of n bytes: a module that
// compiles as fast but weighs n bytes in memory, and n more per instance.
func dataPolicy(n int) []byte { return policyModule(n, 1+(n+65535)/65536) }

// policyModule is dataPolicy with a memory that starts at pages pages.
func policyModule(n, pages int) []byte {
	const (
		typeFunc = 0x60
		i32, i64 = 0x7f, 0x7e
		i32Const = 0x41
		end      = 0x0b
	)
	b := []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}
	b = section(b, 1, []byte{3, // types
		typeFunc, 0, 1, i32, // () -> i32
		typeFunc, 2, i64, i32, 1, i32, // (i64, i32) -> i32
		typeFunc, 3, i32, i64, i32, 1, i32, // (i32, i64, i32) -> i32
	})
	b = section(b, 3, []byte{3, 0, 1, 2})                // functions of types 0, 1, 2
	b = section(b, 5, uleb([]byte{1, 0}, uint64(pages))) // one memory
	exports := []byte{4}
	for i, name := range []string{exportABIVersion, exportPolicyInit, exportPolicyUpdate} {
		exports = append(uleb(exports, uint64(len(name))), name...)
		exports = append(exports, 0, byte(i)) // function i
	}
	exports = append(uleb(exports, 6), "memory"...)
	exports = append(exports, 2, 0) // memory 0
	b = section(b, 7, exports)
	b = section(b, 10, []byte{3,
		4, 0, i32Const, 1, end, // abi version: 1
		5, 0, i32Const, 0x80, 0x08, end, // init: buffer at 1024
		4, 0, i32Const, 0, end, // update: no victims
	})
	if n > 0 {
		data := []byte{1, 0, i32Const, 0x80, 0x80, 0x04, end} // one segment at 65536
		data = uleb(data, uint64(n))
		for i := range n {
			data = append(data, byte(i*7+i>>8))
		}
		b = section(b, 11, data)
	}
	return b
}

// rssKiB returns the process's resident set size (VmRSS), or 0 where
// /proc is missing.
func rssKiB(t testing.TB) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

// settle collects garbage, waits until the finalizers it queued (which
// unmap compiled code) have run, and returns freed memory to the OS, so
// RSS means something. Finalizers run one at a time on one goroutine: a
// sentinel's finalizer, queued by the same collection, runs after or
// among them, so three rounds let chains of finalizers finish.
func settle() {
	for range 3 {
		done := make(chan struct{})
		runtime.SetFinalizer(&settleSentinel{}, func(*settleSentinel) { close(done) })
		runtime.GC()
		select {
		case <-done:
		case <-time.After(10 * time.Second): // a deadline, not a wait
		}
	}
	debug.FreeOSMemory()
}

// settleSentinel is too large for the tiny allocator, whose blocks may
// outlive a collection and delay a finalizer.
type settleSentinel struct{ _ [32]byte }
