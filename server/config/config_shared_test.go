package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSharedLoader(t *testing.T) {
	f, err := Parse("g.yaml", []byte(`
groups:
  - name: orders
    capacity: 1MiB
    write_through: true
    loader:
      kind: postgres
      dsn_env: DISTCACHE_PG_DSN
      table: orders
      max_open_conns: 8
      max_idle_conns: 2
      conn_max_lifetime: 5m
  - name: users
    capacity: 1MiB
    loader: {kind: mysql, dsn: "app@tcp(db1:3306)/app"}
`))
	if err != nil {
		t.Fatal(err)
	}
	pg, my := f.Groups[0].Loader, f.Groups[1].Loader
	if pg.DSNEnv != "DISTCACHE_PG_DSN" || pg.Table != "orders" || pg.KeyColumn != "k" || pg.ValueColumn != "v" ||
		pg.MaxOpenConns != 8 || pg.MaxIdleConns != 2 || pg.ConnMaxLifetime.Std() != 5*time.Minute || !pg.Shared() {
		t.Errorf("postgres loader decoded as %+v", pg)
	}
	if my.DSN != "app@tcp(db1:3306)/app" || my.Table != "kv" || my.MaxOpenConns != 0 || !my.Shared() || !my.Writable() {
		t.Errorf("mysql loader decoded as %+v", my)
	}
}

// TestWasmLoaderDatabase: a wasm loader names the shared database its
// sql_query reads, with the DSN and pool of a shared loader.
func TestWasmLoaderDatabase(t *testing.T) {
	f, err := Parse("g.yaml", []byte(`
groups:
  - name: users
    capacity: 1MiB
    loader:
      kind: wasm
      plugin: sqlkv
      database: postgres
      dsn_env: DISTCACHE_PG_DSN
      max_open_conns: 4
`))
	if err != nil {
		t.Fatal(err)
	}
	l := f.Groups[0].Loader
	if l.Database != "postgres" || l.DSNEnv != "DISTCACHE_PG_DSN" || l.MaxOpenConns != 4 || l.Shared() || l.Writable() {
		t.Errorf("wasm loader with a database decoded as %+v", l)
	}
	if _, err := Parse("g.yaml", []byte("groups:\n  - name: g\n    capacity: 1MiB\n    write_through: true\n    loader: {kind: wasm, plugin: p, database: mysql, dsn: x}\n")); err == nil || !strings.Contains(err.Error(), "write_through") {
		t.Errorf("write_through on a wasm loader with a database: %v, want refused", err)
	}
}

func TestSharedLoaderErrors(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, field, word string
	}{
		{"no dsn", "loader: {kind: postgres}", "groups[0].loader.dsn", "dsn_env"},
		{"both dsn and dsn_env", "loader: {kind: mysql, dsn: x, dsn_env: Y}", "groups[0].loader.dsn_env", "not both"},
		{"bad dsn_env", "loader: {kind: postgres, dsn_env: PG-DSN}", "groups[0].loader.dsn_env", "environment variable name"},
		{"max_open_conns negative", "loader: {kind: postgres, dsn: x, max_open_conns: -1}", "groups[0].loader.max_open_conns", "0 to 10000"},
		{"max_open_conns too many", "loader: {kind: postgres, dsn: x, max_open_conns: 10001}", "groups[0].loader.max_open_conns", "0 to 10000"},
		{"max_idle_conns over max_open", "loader: {kind: mysql, dsn: x, max_open_conns: 2, max_idle_conns: 3}",
			"groups[0].loader.max_idle_conns", "more than max_open_conns"},
		{"conn_max_lifetime negative", "loader: {kind: mysql, dsn: x, conn_max_lifetime: -1s}", "groups[0].loader.conn_max_lifetime", "negative"},
		{"conn_max_lifetime too long", "loader: {kind: mysql, dsn: x, conn_max_lifetime: 25h}", "groups[0].loader.conn_max_lifetime", "too long"},
		{"conn_max_lifetime no unit", "loader: {kind: mysql, dsn: x, conn_max_lifetime: 10}", "groups[0].loader.conn_max_lifetime", "duration"},
		{"bad table", "loader: {kind: postgres, dsn: x, table: a.b}", "groups[0].loader.table", "SQL identifier"},
		{"wasm field on postgres", "loader: {kind: postgres, dsn: x, plugin: p}", "groups[0].loader.plugin", "not a setting of a postgres loader"},
		{"dsn on sqlite", "loader: {kind: sqlite, dsn: x}", "groups[0].loader.dsn", "not a setting of a sqlite loader"},
		{"pool on sqlite", "loader: {kind: sqlite, max_open_conns: 3}", "groups[0].loader.max_open_conns", "not a setting of a sqlite loader"},
		{"dsn_env on wasm without a database", "loader: {kind: wasm, plugin: p, dsn_env: X}", "groups[0].loader.dsn_env", "give database"},
		{"pool on wasm without a database", "loader: {kind: wasm, plugin: p, max_open_conns: 3}", "groups[0].loader.max_open_conns", "give database"},
		{"unknown database on wasm", "loader: {kind: wasm, plugin: p, database: oracle, dsn: x}", "groups[0].loader.database", `unknown database "oracle"`},
		{"sqlite database on wasm", "loader: {kind: wasm, plugin: p, database: sqlite}", "groups[0].loader.database", "absent = the node's SQLite"},
		{"database on wasm without dsn", "loader: {kind: wasm, plugin: p, database: postgres}", "groups[0].loader.dsn", "postgres database"},
		{"database on wasm with both", "loader: {kind: wasm, plugin: p, database: mysql, dsn: x, dsn_env: Y}", "groups[0].loader.dsn_env", "not both"},
		{"database on wasm, bad pool", "loader: {kind: wasm, plugin: p, database: mysql, dsn: x, max_idle_conns: -1}", "groups[0].loader.max_idle_conns", "0 to 10000"},
		{"table on wasm", "loader: {kind: wasm, plugin: p, database: mysql, dsn: x, table: t}", "groups[0].loader.table", "not a setting of a wasm loader"},
		{"database on postgres", "loader: {kind: postgres, dsn: x, database: mysql}", "groups[0].loader.database", "not a setting of a postgres loader"},
		{"database on sqlite", "loader: {kind: sqlite, database: postgres}", "groups[0].loader.database", "not a setting of a sqlite loader"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("g.yaml", []byte("groups:\n  - name: g\n    capacity: 1MiB\n    "+tc.yaml+"\n"))
			var e *Error
			if !errors.As(err, &e) || e.Field != tc.field || !strings.Contains(e.Problem, tc.word) {
				t.Fatalf("Parse = %v, want an *Error at %s mentioning %q", err, tc.field, tc.word)
			}
		})
	}
}
