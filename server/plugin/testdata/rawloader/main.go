// Command rawloader is a loader written against the raw ABI. Keys:
// "hog" allocates far past any memory cap; "spin" never returns;
// "boom" panics; "missing" is not found; "fail" is an error; any other
// key k loads "raw:"+k with a ttl of 5 minutes.
package main

import "unsafe"

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
	case "fail":
		msg := []byte("backend said no")
		setError(ptr(msg), uint32(len(msg)))
		return 2
	}
	v := []byte("raw:" + key)
	setValue(ptr(v), uint32(len(v)))
	setTTL(5 * 60 * 1000)
	return 0
}

func main() {}
