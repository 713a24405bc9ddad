// Command sqlkv is a loader plugin that reads a key from a table of the
// node's embedded SQLite database through the host's read-only sql_query.
// Its settings name the table and columns:
//
//	loader:
//	  kind: wasm
//	  plugin: sqlkv
//	  settings: {table: users, key_column: id, value_column: name, ttl: 30s}
//
// Every setting is optional: table kv, key_column k, value_column v, and
// the group's ttl. Build it with `go tool task plugins`, or:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o plugins/sqlkv.wasm ./loader/sqlkv
package main

import (
	"fmt"
	"regexp"
	"time"

	"github.com/distcache/distcache/sdk/loader"
)

var ident = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

func init() { loader.Register(loader.LoaderFunc(load)) }

func setting(req loader.Request, name, def string) string {
	if v, ok := req.Settings[name]; ok && v != "" {
		return v
	}
	return def
}

func load(req loader.Request) (loader.Response, error) {
	table, key, value := setting(req, "table", "kv"), setting(req, "key_column", "k"), setting(req, "value_column", "v")
	for _, id := range []string{table, key, value} {
		if !ident.MatchString(id) {
			return loader.Response{}, fmt.Errorf("setting %q is not a plain SQL identifier", id)
		}
	}
	var ttl time.Duration
	if s := setting(req, "ttl", ""); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			return loader.Response{}, fmt.Errorf("setting ttl: %w", err)
		}
		ttl = d
	}
	rows, err := loader.Query(fmt.Sprintf(`SELECT "%s" FROM "%s" WHERE "%s" = ?`, value, table, key), req.Key)
	if err != nil {
		return loader.Response{}, err
	}
	if len(rows) == 0 || rows[0][0] == nil {
		return loader.Response{}, loader.ErrNotFound
	}
	return loader.Response{Value: fmt.Append(nil, rows[0][0]), TTL: ttl}, nil
}

func main() {}
