// Package policy is the Go guest SDK for distcache eviction policies: write
// a [Policy], register it, and build the package to WebAssembly. The module
// then speaks the plugin ABI v1 (plugins/README.md) and a node runs it for
// every group whose `policy:` names it.
//
// # Writing a policy
//
// A policy plugin is a package main with an init func that calls
// [Register], and an empty main func, which -buildmode=c-shared requires
// even though it never runs:
//
//	package main
//
//	import "github.com/distcache/distcache/sdk/policy"
//
//	func init() {
//		policy.Register(func(capacity int64) policy.Policy { return newMine(capacity) })
//	}
//
//	func main() {}
//
// Keep the algorithm in a plain Go type in its own file, so that it builds
// and is tested natively (go test): [New] returns the registered policy
// outside WebAssembly too, and package policytest drives one the way a
// distcache group does.
//
// # Building
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o plugins/NAME.wasm ./policy/NAME
//
// and drop the file into a node's plugins directory. The module exports
// distcache_abi_version, distcache_policy_init and distcache_policy_update,
// and imports only distcache.log (through [Log]) and what the Go runtime
// needs of wasi_snapshot_preview1. A policy module must not also import
// the loader SDK: both define distcache_abi_version.
//
// # What a policy sees
//
// Entries are named by a 64-bit hash of their key and weigh their cost in
// bytes (key + value + 64). The host tells the policy what happened, in
// order, with [Policy.Apply], and asks for room with [Policy.Evict] right
// after it announced the newcomer as an [OpInsert], so an admission policy
// may name the newcomer itself to refuse it. Victims are advice: the host
// ignores hashes it does not hold and evicts others itself if a policy
// names too few. The host may drop [OpAccess] events under load, never the
// others.
//
// One instance serves one group and is never called concurrently. Its
// memory is capped at what the group's capacity calls for: 32 MiB plus 128
// bytes per entry the group can hold at the smallest entry size, at most
// 4 GiB (plugins/README.md). Package hashlist keeps an entry in about 32
// of those bytes. A policy that runs out of memory traps, and the group
// falls back to the node's native LRU, which the node reports loudly.
package policy
