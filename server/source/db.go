// Package source is the SQL databases a distcache node loads from and
// writes through to, and the built-in loader over them: the node's
// embedded SQLite file, or a shared PostgreSQL or MySQL/MariaDB database.
//
// [Open] opens (creating if needed) the database file at the node's --db
// path in WAL mode, and on first use makes the demo table [DemoTable] with a
// few rows, so a fresh node has something to serve. [OpenShared] opens a
// connection pool on a shared database every node of a cluster reaches.
// [DB.Table] turns one table of either into a [cache.Loader] and
// [cache.Writer] after checking, once, that its identifiers are plain and
// that the table and columns exist. What differs between the databases
// (placeholders, quoting, the upsert, types) is a small dialect; the
// group commits and the expiry table are shared.
//
// It uses the pure-Go drivers modernc.org/sqlite, pgx and
// go-sql-driver/mysql, so the node needs no cgo.
package source

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// The demo table that [Open] makes in a database that does not have it.
const (
	// DemoTable is the name of the demo table.
	DemoTable = "kv"
	// DemoKeyColumn is the demo table's key column, its TEXT PRIMARY KEY.
	DemoKeyColumn = "k"
	// DemoValueColumn is the demo table's value column, a BLOB NOT NULL.
	DemoValueColumn = "v"
)

// busyTimeoutMillis is how long a connection waits for another one's write
// lock before failing with SQLITE_BUSY.
const busyTimeoutMillis = 5000

// DB is the embedded SQLite database at the node's --db path. It is safe
// for concurrent use; close it with [DB.Close] after the tables made from it
// are no longer used.
type DB struct {
	sql     *sql.DB
	path    string // the file, or a shared database's description
	dialect *dialect
}

// Open opens the SQLite database file at path, creating it if it does not
// exist (its directory must). Every connection uses WAL journal mode and a
// busy timeout of 5s. If the database has no [DemoTable], Open makes it and
// fills it with demo rows; an existing demo table is left as it is, so rows
// changed or deleted since are not restored. ctx bounds only the opening.
func Open(ctx context.Context, path string) (*DB, error) {
	if err := checkPath(path); err != nil {
		return nil, fmt.Errorf("opening sqlite database %q: %w", path, err)
	}
	dsn, err := dataSourceName(path)
	if err != nil {
		return nil, fmt.Errorf("opening sqlite database %q: %w", path, err)
	}
	handle, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("opening sqlite database %q: %w", path, err)
	}
	// Each new connection re-runs the pragmas and re-prepares statements,
	// so keep more than database/sql's default two idle. Bound the open
	// ones: a flood of distinct missing keys queues for a connection (each
	// group also bounds its loads) instead of opening one per load.
	handle.SetMaxIdleConns(max(4, runtime.GOMAXPROCS(0)))
	handle.SetMaxOpenConns(MaxOpenConns)
	db := &DB{sql: handle, path: path, dialect: sqliteDialect}
	if err := db.seedDemo(ctx); err != nil {
		return nil, errors.Join(
			fmt.Errorf("opening sqlite database %q: %w", path, err), handle.Close())
	}
	return db, nil
}

// MaxOpenConns bounds the connections each handle on the database opens
// (the source's and the plugins' read-only one each).
const MaxOpenConns = 16

// checkPath reports a path SQLite cannot open as a database file, with a
// clearer message than SQLite's "unable to open database file".
func checkPath(path string) error {
	if path == "" {
		return errors.New("empty path")
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return errors.New("path is a directory")
	}
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("directory %q: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%q is not a directory", dir)
	}
	return nil
}

// dataSourceName is the driver DSN for the file at path: an absolute
// file: URI whose path has the characters special in URIs escaped.
func dataSourceName(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	escaped := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").
		Replace(filepath.ToSlash(abs))
	if !strings.HasPrefix(escaped, "/") {
		escaped = "/" + escaped // a Windows drive letter
	}
	return fmt.Sprintf("file:%s?_pragma=busy_timeout(%d)&_pragma=journal_mode(WAL)",
		escaped, busyTimeoutMillis), nil
}

// Close closes the database. Tables made from it stop working.
func (db *DB) Close() error {
	if err := db.sql.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", db.describe(), err)
	}
	return nil
}

// SQL returns the database handle, shared with db: callers must not close
// it. It is safe for concurrent use.
func (db *DB) SQL() *sql.DB { return db.sql }

// Path returns the path db was opened with or, for a shared database, its
// kind, address and name (never its password).
func (db *DB) Path() string { return db.path }

// describe names db in errors.
func (db *DB) describe() string {
	if db.Shared() {
		return db.path
	}
	return fmt.Sprintf("sqlite database %q", db.path)
}

// demoRows are the rows [Open] puts in a new demo table.
func demoRows() [][2]string {
	return [][2]string{
		{"hello", "world"},
		{"greeting", "Hello from distcache!"},
		{"answer", "42"},
		{"lorem", "Lorem ipsum dolor sit amet, consectetur adipiscing elit."},
		{"motto", "A cache is a promise to forget, politely."},
	}
}

// seedDemo makes and fills the demo table if the database does not have
// it, in one write transaction so that two nodes opening the same new file
// do not both seed it.
func (db *DB) seedDemo(ctx context.Context) error {
	conn, err := db.sql.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	// BEGIN IMMEDIATE takes the write lock up front (waiting up to the busy
	// timeout); a deferred transaction that reads and then writes can fail
	// with SQLITE_BUSY without waiting.
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return fmt.Errorf("starting transaction: %w", err)
	}
	err = seedDemoLocked(ctx, conn)
	if err == nil {
		err = createExpiryLocked(ctx, conn)
	}
	if err == nil {
		if _, err = conn.ExecContext(ctx, "COMMIT"); err == nil {
			return nil
		}
	}
	return errors.Join(err, rollback(ctx, conn))
}

// rollback ends conn's transaction, discarding the connection if it cannot,
// so that no connection goes back to the pool inside a transaction.
func rollback(ctx context.Context, conn *sql.Conn) error {
	_, err := conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
	if err != nil {
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		return fmt.Errorf("rolling back: %w", err)
	}
	return nil
}

// ExpiryTable holds the expiry of each row written through with a TTL:
// the table's name, the key, and when it expires (Unix milliseconds). A
// row without one never expires. It lives beside the user's tables so
// that any table can be written through with TTLs, whatever its columns.
const ExpiryTable = "distcache_expiry"

// createExpiryLocked makes ExpiryTable unless it exists; conn holds the
// write lock.
func createExpiryLocked(ctx context.Context, conn *sql.Conn) error {
	_, err := conn.ExecContext(ctx, sqliteDialect.expiryDDL)
	if err != nil {
		return fmt.Errorf("creating table %q: %w", ExpiryTable, err)
	}
	return nil
}

// seedDemoLocked makes and fills the demo table unless it exists; conn
// holds the write lock.
func seedDemoLocked(ctx context.Context, conn *sql.Conn) error {
	var n int
	err := conn.QueryRowContext(ctx,
		"SELECT count(*) FROM sqlite_schema WHERE name = ?1 COLLATE NOCASE", DemoTable).Scan(&n)
	if err != nil {
		return fmt.Errorf("looking for table %q: %w", DemoTable, err)
	}
	if n > 0 {
		return nil
	}
	create := fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s (%s TEXT PRIMARY KEY, %s BLOB NOT NULL)`,
		quote(DemoTable), quote(DemoKeyColumn), quote(DemoValueColumn))
	if _, err := conn.ExecContext(ctx, create); err != nil {
		return fmt.Errorf("creating table %q: %w", DemoTable, err)
	}
	insert := fmt.Sprintf(`INSERT OR IGNORE INTO %s (%s, %s) VALUES (?1, ?2)`,
		quote(DemoTable), quote(DemoKeyColumn), quote(DemoValueColumn))
	for _, row := range demoRows() {
		if _, err := conn.ExecContext(ctx, insert, row[0], []byte(row[1])); err != nil {
			return fmt.Errorf("inserting demo row %q: %w", row[0], err)
		}
	}
	return nil
}
