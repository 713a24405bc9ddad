// Command noinit is a policy that lacks distcache_policy_init.
package main

//go:wasmexport distcache_abi_version
func abiVersion() int32 { return 1 }

//go:wasmexport distcache_policy_update
func policyUpdate(n int32, need int64, maxVictims int32) int32 { return 0 }

func main() {}
