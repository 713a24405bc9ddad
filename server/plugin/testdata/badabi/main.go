// Command badabi is a policy that claims ABI version 2.
package main

//go:wasmexport distcache_abi_version
func abiVersion() int32 { return 2 }

//go:wasmexport distcache_policy_init
func policyInit(capacity int64, maxEvents int32) int32 { return 0 }

//go:wasmexport distcache_policy_update
func policyUpdate(n int32, need int64, maxVictims int32) int32 { return 0 }

func main() {}
