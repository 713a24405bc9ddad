// Package builtin holds the shipped plugins compiled into the node binary,
// so a node with an empty plugins directory still serves its groups with
// the WebAssembly policies: every policy/<name> and loader/<name> written
// in Go, as <name>.wasm.gz. The C policy (policy/fifo-c) needs clang to
// build and is not among them.
//
// The files are generated and committed: go tool task builtins rebuilds
// them (reproducibly, with cmd/mkbuiltins) and go tool task lint fails when
// they differ from a build of their sources. A file of the same name in
// the plugins directory overrides a built-in one (see
// [github.com/distcache/distcache/server/plugin.Manager.SetBuiltins]).
package builtin

import (
	"embed"
	"io/fs"
)

//go:embed *.wasm.gz
var modules embed.FS

// FS returns the built-in plugins, one <name>.wasm.gz each (the module,
// gzipped), for the node's plugin manager. It is read-only and safe for
// concurrent use.
func FS() fs.FS { return modules }
