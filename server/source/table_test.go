package source

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// schema is the tables the Table tests check configs against.
var schema = []string{
	`CREATE TABLE plain (k TEXT, v BLOB)`,
	`CREATE TABLE pk_text (k TEXT PRIMARY KEY, v BLOB)`,
	`CREATE TABLE pk_int (k INTEGER PRIMARY KEY, v BLOB)`,
	`CREATE TABLE pk_norowid (k TEXT PRIMARY KEY, v BLOB) WITHOUT ROWID`,
	`CREATE TABLE pk_composite (k TEXT, j TEXT, v BLOB, PRIMARY KEY (k, j))`,
	`CREATE TABLE uniq (id INTEGER PRIMARY KEY, k TEXT UNIQUE, v BLOB)`,
	`CREATE TABLE uniq_index (k TEXT, v BLOB)`,
	`CREATE UNIQUE INDEX uniq_index_k ON uniq_index (k)`,
	`CREATE TABLE uniq_partial (k TEXT, v BLOB)`,
	`CREATE UNIQUE INDEX uniq_partial_k ON uniq_partial (k) WHERE k IS NOT NULL`,
	`CREATE TABLE uniq_pair (k TEXT, j TEXT, v BLOB, UNIQUE (k, j))`,
	`CREATE VIEW view_kv AS SELECT k, v FROM pk_text`,
}

func TestTableErrors(t *testing.T) {
	db, _ := openTemp(t)
	exec(t, db, schema...)
	for _, tc := range []struct {
		name     string
		cfg      TableConfig
		writable bool
		want     []string // substrings of the error
	}{
		{"missing table", TableConfig{"kvx", "k", "v"}, false, []string{`table "kvx" does not exist in `, db.Path()}},
		{"missing key column", TableConfig{"kv", "key", "v"}, false, []string{`table "kv" has no column "key"`}},
		{"missing value column", TableConfig{"kv", "k", "val"}, false, []string{`table "kv" has no column "val"`}},
		{"injected table", TableConfig{"kv; DROP TABLE kv", "k", "v"}, false, []string{`"kv; DROP TABLE kv" is not a plain SQL identifier`}},
		{"injected column", TableConfig{"kv", `k" FROM kv; --`, "v"}, false, []string{"key column", "not a plain SQL identifier"}},
		{"empty value column", TableConfig{"kv", "k", ""}, false, []string{`value column ""`}},
		{"leading digit", TableConfig{"1kv", "k", "v"}, false, []string{`table "1kv"`}},
		{"too long", TableConfig{strings.Repeat("t", 64), "k", "v"}, false, []string{"not a plain SQL identifier"}},
		{"same column", TableConfig{"kv", "k", "K"}, false, []string{`key column and value column are both "k"`}},
		{"not unique", TableConfig{"plain", "k", "v"}, true, []string{`column "k" of table "plain" is neither PRIMARY KEY nor UNIQUE`}},
		{"composite primary key", TableConfig{"pk_composite", "k", "v"}, true, []string{`column "k" of table "pk_composite"`}},
		{"partial unique index", TableConfig{"uniq_partial", "k", "v"}, true, []string{`table "uniq_partial" is neither`}},
		{"composite unique", TableConfig{"uniq_pair", "k", "v"}, true, []string{`table "uniq_pair" is neither`}},
		{"writable view", TableConfig{"view_kv", "k", "v"}, true, []string{`table "view_kv" is neither`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tbl, err := db.Table(t.Context(), tc.cfg, tc.writable)
			if err == nil {
				_ = tbl.Close()
				t.Fatalf("Table(%+v, %v) succeeded", tc.cfg, tc.writable)
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
	// The rejected identifiers ran no SQL: the demo table is still there.
	wantValue(t, table(t, db, DefaultTableConfig(), false), "hello", "world")
}

func TestTableAccepts(t *testing.T) {
	db, _ := openTemp(t)
	exec(t, db, schema...)
	for _, tc := range []struct {
		name     string
		cfg      TableConfig
		writable bool
	}{
		{"read-only without unique key", TableConfig{"plain", "k", "v"}, false},
		{"read-only view", TableConfig{"view_kv", "k", "v"}, false},
		{"text primary key", TableConfig{"pk_text", "k", "v"}, true},
		{"integer primary key", TableConfig{"pk_int", "k", "v"}, true},
		{"without rowid", TableConfig{"pk_norowid", "k", "v"}, true},
		{"unique constraint", TableConfig{"uniq", "k", "v"}, true},
		{"unique index", TableConfig{"uniq_index", "k", "v"}, true},
		{"other case", TableConfig{"KV", "K", "V"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tbl := table(t, db, tc.cfg, tc.writable)
			ctx := t.Context()
			if !tc.writable {
				if err := tbl.Write(ctx, "1", []byte("x"), time.Time{}); err == nil {
					t.Fatal("Write on a read-only table succeeded")
				}
				wantNotFound(t, tbl, "1")
				return
			}
			for _, v := range []string{"one", "two"} {
				if err := tbl.Write(ctx, "1", []byte(v), time.Time{}); err != nil {
					t.Fatal(err)
				}
				wantValue(t, tbl, "1", v)
			}
			if err := tbl.Remove(ctx, "1"); err != nil {
				t.Fatal(err)
			}
			wantNotFound(t, tbl, "1")
		})
	}
}

func TestTableReadOnlyRefusesRemove(t *testing.T) {
	db, _ := openTemp(t)
	tbl := table(t, db, DefaultTableConfig(), false)
	if err := tbl.Remove(t.Context(), "hello"); !errors.Is(err, errReadOnly) {
		t.Fatalf("Remove on a read-only table = %v, want errReadOnly", err)
	}
	wantValue(t, tbl, "hello", "world")
}
