// Command rawloader is a loader written against the raw ABI. Keys:
// "hog" allocates far past any memory cap; "spin" never returns; "boom"
// panics; "missing" is not found; "fail" is an error; "http:U" fetches
// URL U with http_get and returns "STATUS BODY", and "httplen:U" returns
// "STATUS LEN" (either fails with the host's error); "fs" and "env" try
// to read a file and the environment, which the sandbox must deny;
// "sql:Q" runs query Q with sql_query and returns its JSON rows (or fails
// with its error); "dialect" returns "dialect N", N from sql_dialect; any
// other key k loads "raw:"+k with a ttl of 5
// minutes.
package main

import (
	"fmt"
	"os"
	"strings"
	"unsafe"
)

//go:wasmimport distcache http_get
func httpGet(up, un uint32) int32

//go:wasmimport distcache sql_query
func sqlQuery(qp, qn, ap, an uint32) int32

//go:wasmimport distcache sql_dialect
func sqlDialect() int32

//go:wasmimport distcache result
func result(ptr, n uint32) uint32

//go:wasmimport distcache set_value
func setValue(ptr, n uint32)

//go:wasmimport distcache set_ttl
func setTTL(ms int64)

//go:wasmimport distcache set_error
func setError(ptr, n uint32)

var (
	buf  []byte
	keep [][]byte
)

//go:wasmexport distcache_abi_version
func abiVersion() int32 { return 1 }

//go:wasmexport distcache_loader_alloc
func alloc(size int32) int32 {
	buf = make([]byte, size+1)
	return int32(uintptr(unsafe.Pointer(&buf[0])))
}

func ptr(b []byte) uint32 { return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b)))) }

//go:wasmexport distcache_loader_load
func load(gp, gl, kp, kl, sp, sl int32) int32 {
	key := string(buf[kp-int32(ptr(buf)) : kp-int32(ptr(buf))+kl])
	switch key {
	case "hog":
		for {
			keep = append(keep, make([]byte, 16<<20))
		}
	case "spin":
		for n := 0; ; n++ {
			keep = keep[:0]
		}
	case "boom":
		panic("rawloader: boom")
	case "missing":
		return 1
	case "sql:":
	case "fail":
		msg := []byte("backend said no")
		setError(ptr(msg), uint32(len(msg)))
		return 2
	}
	switch key {
	case "fs":
		_, err := os.ReadFile("/etc/hostname")
		return reply(fmt.Sprintf("fs: %v", err))
	case "env":
		return reply(fmt.Sprintf("env: %q %d", os.Getenv("HOME"), len(os.Environ())))
	case "dialect":
		return reply(fmt.Sprintf("dialect %d", sqlDialect()))
	}
	if u, ok := strings.CutPrefix(key, "http:"); ok {
		return fetch(u, false)
	}
	if u, ok := strings.CutPrefix(key, "httplen:"); ok {
		return fetch(u, true)
	}
	if q, ok := strings.CutPrefix(key, "sql:"); ok {
		return runSQL(q)
	}
	v := []byte("raw:" + key)
	setValue(ptr(v), uint32(len(v)))
	setTTL(5 * 60 * 1000)
	return 0
}

func main() {}

func runSQL(q string) int32 {
	qb := []byte(q)
	n := sqlQuery(ptr(qb), uint32(len(qb)), 0, 0)
	size := n
	if size < 0 {
		size = -size
	}
	out := make([]byte, size+1)
	out = out[:result(ptr(out), uint32(size))]
	if n < 0 {
		setError(ptr(out), uint32(len(out)))
		return 2
	}
	setValue(ptr(out), uint32(len(out)))
	return 0
}

// fetch gets u with http_get and replies "STATUS BODY", or "STATUS LEN"
// if onlyLen, or fails with the host's error.
func fetch(u string, onlyLen bool) int32 {
	ub := []byte(u)
	status := httpGet(ptr(ub), uint32(len(ub)))
	body := pendingResult()
	if status < 0 {
		setError(ptr(body), uint32(len(body)))
		return 2
	}
	if onlyLen {
		return reply(fmt.Sprintf("%d %d", status, len(body)))
	}
	return reply(fmt.Sprintf("%d %s", status, body))
}

func reply(s string) int32 {
	v := []byte(s)
	setValue(ptr(v), uint32(len(v)))
	return 0
}

// pendingResult copies the whole pending result: result(ptr, 0) gives its
// length.
func pendingResult() []byte {
	n := result(0, 0)
	out := make([]byte, n+1)
	return out[:result(ptr(out), n)]
}
