// Package loader is the Go guest SDK for distcache loaders: functions that
// fetch a key's value on a cache miss, run "serverless-style" as
// WebAssembly modules in the node (plugin ABI v1, plugins/README.md).
//
// # Writing a loader
//
// A loader plugin is a package main with an init func that calls
// [Register], and an empty main func, which -buildmode=c-shared requires
// even though it never runs:
//
//	package main
//
//	import "github.com/distcache/distcache/sdk/loader"
//
//	func init() {
//		loader.Register(loader.LoaderFunc(func(req loader.Request) (loader.Response, error) {
//			rows, err := loader.Query("SELECT CAST(body AS BLOB) FROM pages WHERE slug = ?", req.Key)
//			if err != nil {
//				return loader.Response{}, err
//			}
//			if len(rows) == 0 {
//				return loader.Response{}, loader.ErrNotFound
//			}
//			return loader.Response{Value: rows[0][0].([]byte)}, nil // a BLOB is []byte
//		}))
//	}
//
//	func main() {}
//
// Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o plugins/NAME.wasm ./path/to/NAME
//
// and name it in a group's `loader: {plugin: NAME}` in the groups file.
//
// # What a loader may do
//
// A loader reaches the world only through the node: [Query] reads the
// group's database (the node's SQLite file, or the shared PostgreSQL or
// MySQL database its loader names; [SQLDialect] says which), [HTTPGet] fetches URLs that the loader's
// `http_allow` list covers, [Now] reads the real clock and [Log] writes to the
// node's log. WASI is sandboxed (no files, environment or network, a fake
// clock). Outside WebAssembly, so in native tests, [Query] and [HTTPGet]
// return [ErrNoHost]: test the logic around them with a fake.
//
// An instance serves one call at a time; calls for different keys run on
// different instances, each with its own memory, so package state is not
// shared between calls in flight. Every call has the group's load_timeout.
// A loader module must not also import the policy SDK: both define
// distcache_abi_version.
package loader
