package source

import (
	"context"
	"fmt"
	"strings"
)

// maxIdentLen is the longest identifier [DB.Table] accepts.
const maxIdentLen = 63

// checkIdent reports whether name is a plain SQL identifier, matching
// ^[A-Za-z_][A-Za-z0-9_]{0,62}$: only such names are ever put into SQL.
func checkIdent(what, name string) error {
	ok := len(name) > 0 && len(name) <= maxIdentLen
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		letter := c == '_' || ('A' <= c && c <= 'Z') || ('a' <= c && c <= 'z')
		ok = letter || (i > 0 && '0' <= c && c <= '9')
	}
	if !ok {
		return fmt.Errorf("%s %q is not a plain SQL identifier (want ^[A-Za-z_][A-Za-z0-9_]{0,62}$)", what, name)
	}
	return nil
}

// quote quotes an identifier already checked by [checkIdent] for SQLite.
func quote(ident string) string { return sqliteDialect.quote(ident) }

// checkConfig checks cfg's identifiers and that its key and value columns
// differ.
func checkConfig(cfg TableConfig) error {
	for _, f := range []struct{ what, name string }{
		{"table", cfg.Table},
		{"key column", cfg.KeyColumn},
		{"value column", cfg.ValueColumn},
	} {
		if err := checkIdent(f.what, f.name); err != nil {
			return err
		}
	}
	if strings.EqualFold(cfg.KeyColumn, cfg.ValueColumn) {
		return fmt.Errorf("table %q: key column and value column are both %q", cfg.Table, cfg.KeyColumn)
	}
	return nil
}

// resolve checks cfg against db's catalog, as [DB.Table] says, and returns
// it with the names spelled as the database does.
func (db *DB) resolve(ctx context.Context, cfg TableConfig, writable bool) (TableConfig, error) {
	if db.Shared() {
		return db.resolveShared(ctx, cfg, writable)
	}
	key, pkLen, err := db.checkColumns(ctx, cfg)
	if err == nil && writable {
		err = db.checkUnique(ctx, cfg, key, pkLen)
	}
	return cfg, err
}

// column is a row of PRAGMA table_xinfo.
type column struct {
	name string
	pk   int // position in the primary key, 0 if not in it
}

// columns returns the columns of table, none if it does not exist.
func (db *DB) columns(ctx context.Context, table string) ([]column, error) {
	rows, err := db.sql.QueryContext(ctx, "SELECT name, pk FROM pragma_table_xinfo(?1)", table)
	if err != nil {
		return nil, fmt.Errorf("reading columns of table %q: %w", table, err)
	}
	defer rows.Close()
	var cols []column
	for rows.Next() {
		var c column
		if err := rows.Scan(&c.name, &c.pk); err != nil {
			return nil, fmt.Errorf("reading columns of table %q: %w", table, err)
		}
		cols = append(cols, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading columns of table %q: %w", table, err)
	}
	return cols, nil
}

// checkColumns checks that cfg's table exists with its key and value
// columns, and returns the key column's description.
func (db *DB) checkColumns(ctx context.Context, cfg TableConfig) (key column, pkLen int, err error) {
	cols, err := db.columns(ctx, cfg.Table)
	if err != nil {
		return column{}, 0, err
	}
	if len(cols) == 0 {
		return column{}, 0, fmt.Errorf("table %q does not exist in %s", cfg.Table, db.describe())
	}
	var haveKey, haveValue bool
	for _, c := range cols {
		if c.pk > 0 {
			pkLen++
		}
		switch {
		case strings.EqualFold(c.name, cfg.KeyColumn):
			key, haveKey = c, true
		case strings.EqualFold(c.name, cfg.ValueColumn):
			haveValue = true
		}
	}
	if !haveKey {
		return column{}, 0, fmt.Errorf("table %q has no column %q", cfg.Table, cfg.KeyColumn)
	}
	if !haveValue {
		return column{}, 0, fmt.Errorf("table %q has no column %q", cfg.Table, cfg.ValueColumn)
	}
	return key, pkLen, nil
}

// uniqueIndexes counts the complete (not partial) unique indexes on table
// whose only column is col; an upsert can use any of them as its target.
const uniqueIndexes = `SELECT count(*) FROM pragma_index_list(?1) AS il
WHERE il."unique" AND NOT il.partial
  AND (SELECT count(*) FROM pragma_index_info(il.name)) = 1
  AND (SELECT name FROM pragma_index_info(il.name)) = ?2 COLLATE NOCASE`

// checkUnique checks that cfg's key column is the table's whole primary key
// or has a unique index, as an upsert on it needs.
func (db *DB) checkUnique(ctx context.Context, cfg TableConfig, key column, pkLen int) error {
	if key.pk > 0 && pkLen == 1 {
		return nil // also covers INTEGER PRIMARY KEY, which has no index
	}
	var n int
	err := db.sql.QueryRowContext(ctx, uniqueIndexes, cfg.Table, key.name).Scan(&n)
	if err != nil {
		return fmt.Errorf("reading indexes of table %q: %w", cfg.Table, err)
	}
	if n == 0 {
		return fmt.Errorf("column %q of table %q is neither PRIMARY KEY nor UNIQUE, so write_through cannot upsert",
			cfg.KeyColumn, cfg.Table)
	}
	return nil
}
