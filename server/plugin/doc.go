// Package plugin is the WebAssembly host of a distcache node: it runs
// eviction policies and loaders as wazero modules.
//
// Modules come from a plugins directory, which the [Manager] watches, and
// from modules built into the node ([Manager.SetBuiltins]); a file
// overrides the built-in module of its name, and its removal brings that
// one back.
//
// A plugin's life, in order (see plugins/README.md for the contract):
//
//  1. Compile: the module's bytes are compiled once, off the hot path, and
//     cached on disk so a restart does not compile again ([Runtime.Compile]).
//  2. Validate: before any instance runs, its exports and imports are
//     checked against the ABI of its kind; only granted imports pass.
//  3. Probe: one instance is started (`_initialize`) and asked its ABI
//     version; a trap or a wrong version refuses the module.
//  4. Instantiate: a policy gets one instance per group ([Module.NewPolicy]);
//     a loader gets a pool of warm instances per version ([Module.NewLoader]).
//  5. Swap: the [Manager] watches the plugins directory and swaps a new
//     version in for every group that uses its name; calls in flight
//     finish on the old version, which is closed after its last call.
//  6. Contain: a trap, a deadline or memory past its cap discards the
//     instance, is logged with the file and the reason, and is counted;
//     the previous version, or the native LRU, keeps serving.
package plugin
