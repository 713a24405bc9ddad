// Command both claims to be a policy and a loader at once.
package main

//go:wasmexport distcache_abi_version
func abiVersion() int32 { return 1 }

//go:wasmexport distcache_policy_update
func policyUpdate(n int32, need int64, maxVictims int32) int32 { return 0 }

//go:wasmexport distcache_loader_load
func loaderLoad(gp, gl, kp, kl, sp, sl int32) int32 { return 1 }

func main() {}
