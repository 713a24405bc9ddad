// Command sqlkv is a loader plugin that reads a key from a table through
// the host's read-only sql_query: a table of the node's embedded SQLite
// database, or of the shared PostgreSQL or MySQL database the group's
// loader names. Its settings name the table and columns:
//
//	loader:
//	  kind: wasm
//	  plugin: sqlkv
//	  settings: {table: users, key_column: id, value_column: name, ttl: 30s}
//	  database: postgres     # optional; absent = the node's SQLite file
//	  dsn_env: APP_PG_DSN
//
// It writes its query for the database sql_dialect names: quoted
// identifiers ("name", or `name` on MySQL) and the dialect's placeholder.
//
// Every setting is optional: table kv, key_column k, value_column v, and
// the group's ttl. Build it with `go tool task plugins`, or:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o plugins/sqlkv.wasm ./loader/sqlkv
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/distcache/distcache/sdk/loader"
)

func init() { loader.Register(&sqlkv{}) }

// sqlkv is the loader: its queries (one per dialect) and TTL, built once
// per settings by Configure (the SDK calls it again only when the
// settings change), so a load is one query.
type sqlkv struct {
	queries map[string]string // by loader.SQLDialect
	ttl     time.Duration
}

var (
	_ loader.Loader     = (*sqlkv)(nil)
	_ loader.Configurer = (*sqlkv)(nil)
)

// Configure implements [loader.Configurer]: it checks the identifiers and
// the ttl, and builds the query.
func (l *sqlkv) Configure(settings map[string]string) error {
	table, key, value := setting(settings, "table", "kv"), setting(settings, "key_column", "k"), setting(settings, "value_column", "v")
	for _, id := range []string{table, key, value} {
		if !plainIdent(id) {
			return fmt.Errorf("setting %q is not a plain SQL identifier", id)
		}
	}
	var ttl time.Duration
	if s := setting(settings, "ttl", ""); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("setting ttl: %w", err)
		}
		ttl = d
	}
	l.queries = map[string]string{
		loader.DialectSQLite:   `SELECT "` + value + `" FROM "` + table + `" WHERE "` + key + `" = ?`,
		loader.DialectPostgres: `SELECT "` + value + `" FROM "` + table + `" WHERE "` + key + `" = $1`,
		loader.DialectMySQL:    "SELECT `" + value + "` FROM `" + table + "` WHERE `" + key + "` = ?",
	}
	l.ttl = ttl
	return nil
}

// Load implements [loader.Loader].
func (l *sqlkv) Load(req loader.Request) (loader.Response, error) {
	if l.queries == nil {
		return loader.Response{}, errors.New("sqlkv: not configured")
	}
	d := loader.SQLDialect()
	query, ok := l.queries[d]
	if !ok {
		return loader.Response{}, fmt.Errorf("sqlkv: no query for database %q (known: sqlite, postgres, mysql)", d)
	}
	rows, err := loader.Query(query, req.Key)
	if err != nil {
		return loader.Response{}, err
	}
	if len(rows) == 0 || len(rows[0]) == 0 || rows[0][0] == nil {
		return loader.Response{}, loader.ErrNotFound
	}
	return loader.Response{Value: valueBytes(rows[0][0]), TTL: l.ttl}, nil
}

// valueBytes returns a column value as bytes: TEXT and BLOB as they are,
// a number as its decimal text.
func valueBytes(v any) []byte {
	switch v := v.(type) {
	case []byte:
		return v
	case string:
		return []byte(v)
	case json.Number:
		return []byte(v)
	}
	return fmt.Append(nil, v)
}

func setting(settings map[string]string, name, def string) string {
	if v, ok := settings[name]; ok && v != "" {
		return v
	}
	return def
}

// plainIdent reports whether s matches ^[A-Za-z_][A-Za-z0-9_]{0,62}$.
func plainIdent(s string) bool {
	if len(s) == 0 || len(s) > 63 || '0' <= s[0] && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20 // lower-cases letters; '_' (0x5f) becomes 0x7f
		if !('a' <= c && c <= 'z' || '0' <= s[i] && s[i] <= '9' || s[i] == '_') {
			return false
		}
	}
	return true
}

func main() {}
