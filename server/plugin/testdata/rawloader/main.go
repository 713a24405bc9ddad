// Command rawloader is a loader written against the raw ABI. Keys:
// "hog" allocates far past any memory cap; "spin" never returns;
// "boom" panics; "missing" is not found; "fail" is an error; any other
// key "sql:Q" runs query Q with sql_query and returns its JSON rows (or
// its error as status 2); any other key k loads "raw:"+k with a ttl of 5
// minutes.
package main

import (
	"strings"
	"unsafe"
)

//go:wasmimport distcache sql_query
func sqlQuery(qp, qn, ap, an uint32) int32

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
