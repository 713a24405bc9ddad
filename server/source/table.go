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
// matched case-insensitively (on a shared database an exact match wins).
type TableConfig struct {
	// Table is the table (or, read-only, view) holding the values.
	Table string
	// KeyColumn is the column the cache key is compared to, bound as
	// text. On a shared database it should be of a text type comparing
	// bytes exactly (PostgreSQL's TEXT or VARCHAR; on MySQL VARBINARY, or
	// VARCHAR with a _bin collation: a case-insensitive one merges keys
	// that differ in case). Keys are at most 250 bytes.
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
	name       string
	now        func() time.Time
	withExpiry bool // load takes the table's name and the key twice
	load       *sql.Stmt
	write      *sql.Stmt  // nil when read-only
	remove     *sql.Stmt  // nil when read-only
	commits    *committer // nil when read-only
}

var (
	_ cache.Loader = (*Table)(nil)
	_ cache.Writer = (*Table)(nil)
)

// Table returns a loader, and when writable also a writer, over the table
// cfg names. It checks, once, that cfg's names are plain SQL identifiers,
// that the table and both columns exist and, when writable, that the key
// column is the table's PRIMARY KEY or has a UNIQUE index, as an upsert
// needs. On a shared database a writable Table makes [ExpiryTable] if it
// is missing. The returned Table's statements are prepared on db; release
// them with [Table.Close].
func (db *DB) Table(ctx context.Context, cfg TableConfig, writable bool) (*Table, error) {
	if err := checkConfig(cfg); err != nil {
		return nil, err
	}
	name := cfg.Table // the name ExpiryTable knows it by, as configured
	cfg, err := db.resolve(ctx, cfg, writable)
	if err != nil {
		return nil, err
	}
	withExpiry, err := db.hasExpiry(ctx)
	if err != nil {
		return nil, err
	}
	t, err := db.prepare(ctx, name, cfg, writable, withExpiry)
	if err != nil {
		return nil, fmt.Errorf("table %q: %w", name, err)
	}
	return t, nil
}

// prepare prepares the statements of a Table over cfg, whose names are
// checked.
func (db *DB) prepare(ctx context.Context, name string, cfg TableConfig, writable, withExpiry bool) (*Table, error) {
	d := db.dialect
	tbl, k, v := d.quote(cfg.Table), d.quote(cfg.KeyColumn), d.quote(cfg.ValueColumn)
	t := &Table{name: name, now: time.Now, withExpiry: withExpiry}
	// The expiry, if the row was written with a TTL, comes with the value.
	err := db.prepareOne(ctx, &t.load, d.loadSQL(tbl, k, v, withExpiry))
	if err == nil && writable {
		err = db.prepareOne(ctx, &t.write, d.writeSQL(tbl, k, v))
	}
	if err == nil && writable {
		err = db.prepareOne(ctx, &t.remove, d.removeSQL(tbl, k))
	}
	if err != nil {
		return nil, errors.Join(err, t.Close())
	}
	if writable {
		t.commits = newCommitter(db.sql, d, name, t.write, t.remove)
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
	args := []any{key}
	if t.withExpiry {
		args = []any{t.name, key, key}
	}
	err := t.load.QueryRowContext(ctx, args...).Scan(&v, &expires)
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
	if value == nil {
		value = []byte{} // a NULL value would read as not found
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
