//go:build wasip1

package loader

import (
	"strconv"
	"unsafe"
)

// arg is the buffer distcache_loader_alloc hands the host for a call's
// group, key and settings. The host needs somewhere to write before it
// calls load, so the exports keep it in this package variable.
var arg []byte

//go:wasmexport distcache_abi_version
func exportABIVersion() int32 { return abiVersion }

//go:wasmexport distcache_loader_alloc
func exportLoaderAlloc(size int32) int32 {
	if size < 0 {
		panic("distcache_loader_alloc: negative size " + strconv.Itoa(int(size)))
	}
	if cap(arg) < int(size) || cap(arg) == 0 {
		arg = make([]byte, max(int(size), 256))
	}
	arg = arg[:cap(arg)]
	return addr(arg)
}

//go:wasmexport distcache_loader_load
func exportLoaderLoad(groupPtr, groupLen, keyPtr, keyLen, settingsPtr, settingsLen int32) int32 {
	group := string(argBytes(groupPtr, groupLen))
	key := string(argBytes(keyPtr, keyLen))
	return registered.serve(group, key, argBytes(settingsPtr, settingsLen), hostReply{})
}

// addr returns the guest address of b's first byte.
func addr(b []byte) int32 { return int32(uintptr(unsafe.Pointer(unsafe.SliceData(b)))) }

// argBytes returns the n bytes at ptr, which must lie in the buffer alloc
// handed out; anything else traps, naming the offsets.
func argBytes(ptr, n int32) []byte {
	if n == 0 {
		return nil
	}
	off := int(ptr) - int(addr(arg))
	if n < 0 || off < 0 || off+int(n) > len(arg) {
		panic("distcache_loader_load: [" + strconv.Itoa(int(ptr)) + ", +" + strconv.Itoa(int(n)) +
			") is not in the buffer distcache_loader_alloc returned")
	}
	return arg[off : off+int(n)]
}

// hostReply sends a load's outcome to the host.
type hostReply struct{}

//go:wasmimport distcache set_value
func hostSetValue(ptr unsafe.Pointer, n int32)

//go:wasmimport distcache set_ttl
func hostSetTTL(ms int64)

//go:wasmimport distcache set_error
func hostSetError(ptr unsafe.Pointer, n int32)

func (hostReply) setValue(b []byte) { hostSetValue(unsafe.Pointer(unsafe.SliceData(b)), int32(len(b))) }
func (hostReply) setTTL(ms int64)   { hostSetTTL(ms) }
func (hostReply) setError(msg string) {
	hostSetError(unsafe.Pointer(unsafe.StringData(msg)), int32(len(msg)))
}
