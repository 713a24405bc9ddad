// Command initpanic is a policy whose package init panics, so the module
// traps while it starts.
package main

func init() { panic("initpanic: refusing to start") }

//go:wasmexport distcache_abi_version
func abiVersion() int32 { return 1 }

//go:wasmexport distcache_policy_init
func policyInit(capacity int64, maxEvents int32) int32 { return 0 }

//go:wasmexport distcache_policy_update
func policyUpdate(n int32, need int64, maxVictims int32) int32 { return 0 }

func main() {}
