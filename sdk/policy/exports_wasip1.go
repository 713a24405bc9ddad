//go:build wasip1

package policy

import "unsafe"

// current is the instance's session. The host calls the exports with no
// handle, so this package variable is where they find it.
var current *session

//go:wasmexport distcache_abi_version
func exportABIVersion() int32 { return abiVersion }

//go:wasmexport distcache_policy_init
func exportPolicyInit(capacity int64, maxEvents int32) int32 {
	current = newSession(capacity, maxEvents)
	if current == nil {
		return 0
	}
	return int32(uintptr(unsafe.Pointer(unsafe.SliceData(current.buf))))
}

//go:wasmexport distcache_policy_update
func exportPolicyUpdate(n int32, need int64, maxVictims int32) int32 {
	if current == nil {
		panic("distcache_policy_update before a successful distcache_policy_init")
	}
	return current.update(n, need, maxVictims)
}
