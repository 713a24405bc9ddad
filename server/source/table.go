package source

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/distcache/distcache/server/cache"
)

// TableConfig names a table and its key and value columns. Each name must
// be a plain SQL identifier (^[A-Za-z_][A-Za-z0-9_]{0,62}$); names are
// matched case-insensitively, as SQLite does.
type TableConfig struct {
	// Table is the table (or, read-only, view) holding the values.
	Table string
	// KeyColumn is the column the cache key is compared to, bound as TEXT.
	KeyColumn string
	// ValueColumn is the column holding the value.
	ValueColumn string
}

// DefaultTableConfig returns the config of the demo table that [Open]
// makes: [DemoTable], [DemoKeyColumn] and [DemoValueColumn].
func DefaultTableConfig() TableConfig {
	return TableConfig{Table: DemoTable, KeyColumn: DemoKeyColumn, ValueColumn: DemoValueColumn}
}

// Table is a [cache.Loader] and [cache.Writer] over one table of a [DB],
// made by [DB.Table]. It is safe for concurrent use. A read-only Table
// refuses Write and Remove.
type Table struct {
	name    string
	now     func() time.Time
	load    *sql.Stmt
	write   *sql.Stmt  // nil when read-only
	remove  *sql.Stmt  // nil when read-only
	commits *committer // nil when read-only
}

var (
	_ cache.Loader = (*Table)(nil)
	_ cache.Writer = (*Table)(nil)
)

// Table returns a loader, and when writable also a writer, over the table
// cfg names. It checks, once, that cfg's names are plain SQL identifiers,
// that the table and both columns exist and, when writable, that the key
// column is the table's PRIMARY KEY or has a UNIQUE index, as an upsert
// needs. The returned Table's statements are prepared on db; release them
// with [Table.Close].
func (db *DB) Table(ctx context.Context, cfg TableConfig, writable bool) (*Table, error) {
	if err := checkConfig(cfg); err != nil {
		return nil, err
	}
	key, pkLen, err := db.checkColumns(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if writable {
		if err := db.checkUnique(ctx, cfg, key, pkLen); err != nil {
			return nil, err
		}
	}
	t, err := db.prepare(ctx, cfg, writable)
	if err != nil {
		return nil, fmt.Errorf("table %q: %w", cfg.Table, err)
	}
	return t, nil
}

// prepare prepares the statements of a Table over cfg, whose names are
// checked.
func (db *DB) prepare(ctx context.Context, cfg TableConfig, writable bool) (*Table, error) {
	tbl, k, v := quote(cfg.Table), quote(cfg.KeyColumn), quote(cfg.ValueColumn)
	t := &Table{name: cfg.Table, now: time.Now}
	// CAST makes every value bytes (numbers as their text) and hides the
	// column's declared type, so the driver never turns a DATETIME column's
	// text into a time.Time. The expiry, if the row was written with a
	// TTL, comes with it.
	err := db.prepareOne(ctx, &t.load, fmt.Sprintf(
		`SELECT CAST(t.%s AS BLOB), e.expires_at FROM %s AS t LEFT JOIN %s AS e ON e.tbl = ?2 AND e.key = t.%s WHERE t.%s = ?1`,
		v, tbl, ExpiryTable, k, k))
	if err == nil && writable {
		// coalesce: the driver may bind an empty []byte as NULL.
		err = db.prepareOne(ctx, &t.write, fmt.Sprintf(
			`INSERT INTO %s (%s, %s) VALUES (?1, coalesce(?2, x'')) ON CONFLICT (%s) DO UPDATE SET %s = excluded.%s`,
			tbl, k, v, k, v, v))
	}
	if err == nil && writable {
		err = db.prepareOne(ctx, &t.remove, fmt.Sprintf(`DELETE FROM %s WHERE %s = ?1`, tbl, k))
	}
	if err != nil {
		return nil, errors.Join(err, t.Close())
	}
	if writable {
		t.commits = newCommitter(db.sql, cfg.Table, t.write, t.remove)
	}
	return t, nil
}

// prepareOne prepares query into *dst.
func (db *DB) prepareOne(ctx context.Context, dst **sql.Stmt, query string) error {
	stmt, err := db.sql.PrepareContext(ctx, query)
	if err != nil {
		return fmt.Errorf("preparing %q: %w", query, err)
	}
	*dst = stmt
	return nil
}

// Close releases t's prepared statements. t must not be used after.
func (t *Table) Close() error {
	if t.commits != nil {
		t.commits.close()
	}
	var errs []error
	for _, s := range []*sql.Stmt{t.load, t.write, t.remove} {
		if s != nil {
			errs = append(errs, s.Close())
		}
	}
	return errors.Join(errs...)
}

// Load returns the value of the row whose key column equals key. A missing
// row, or one whose value is NULL, is an error wrapping [cache.ErrNotFound].
// The returned value is a copy owned by the caller.
func (t *Table) Load(ctx context.Context, key string) (cache.Loaded, error) {
	var v sql.Null[[]byte]
	var expires sql.NullInt64
	err := t.load.QueryRowContext(ctx, key, t.name).Scan(&v, &expires)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return cache.Loaded{}, fmt.Errorf("table %q has no row for the key: %w", t.name, cache.ErrNotFound)
	case err != nil:
		return cache.Loaded{}, fmt.Errorf("table %q: loading: %w", t.name, err)
	case !v.Valid:
		return cache.Loaded{}, fmt.Errorf("table %q has a NULL value for the key: %w", t.name, cache.ErrNotFound)
	}
	if v.V == nil {
		v.V = []byte{}
	}
	loaded := cache.Loaded{Value: v.V}
	if expires.Valid {
		// Written through with a TTL: gone once it passes, and cached no
		// longer than it has left.
		left := time.UnixMilli(expires.Int64).Sub(t.now())
		if left <= 0 {
			return cache.Loaded{}, fmt.Errorf("table %q: the key's TTL has passed: %w", t.name, cache.ErrNotFound)
		}
		loaded.TTL = left
	}
	return loaded, nil
}

// errReadOnly is returned by Write and Remove on a read-only Table.
var errReadOnly = errors.New("table was opened read-only")

// Write stores value under key, inserting a row or updating the existing
// one, and its expiry in [ExpiryTable] (none when expires is zero), in a
// group commit with the writes that arrive with it. It does not keep
// value. If ctx ends before the commit, Write returns ctx's error and the
// row may still be written.
func (t *Table) Write(ctx context.Context, key string, value []byte, expires time.Time) error {
	if t.commits == nil {
		return fmt.Errorf("table %q: writing: %w", t.name, errReadOnly)
	}
	op := &writeOp{key: key, value: value}
	if !expires.IsZero() {
		op.expiresAt = expires.UnixMilli()
	}
	if err := t.commits.do(ctx, op); err != nil {
		return fmt.Errorf("table %q: writing: %w", t.name, err)
	}
	return nil
}

// Remove deletes the row of key, in a group commit like Write. Removing a
// missing key is not an error.
func (t *Table) Remove(ctx context.Context, key string) error {
	if t.commits == nil {
		return fmt.Errorf("table %q: removing: %w", t.name, errReadOnly)
	}
	if err := t.commits.do(ctx, &writeOp{key: key, remove: true}); err != nil {
		return fmt.Errorf("table %q: removing: %w", t.name, err)
	}
	return nil
}
