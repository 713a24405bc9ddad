package source

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/distcache/distcache/server/cache"
)

// openTemp opens a new database in a temporary directory.
func openTemp(t *testing.T) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "distcache.db")
	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open(%q): %v", path, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db, path
}

// table returns db's Table for cfg, failing the test on error.
func table(t *testing.T, db *DB, cfg TableConfig, writable bool) *Table {
	t.Helper()
	tbl, err := db.Table(t.Context(), cfg, writable)
	if err != nil {
		t.Fatalf("Table(%+v, %v): %v", cfg, writable, err)
	}
	t.Cleanup(func() { _ = tbl.Close() })
	return tbl
}

// exec runs SQL statements on db, failing the test on error.
func exec(t *testing.T, db *DB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := db.SQL().ExecContext(t.Context(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// wantValue checks that tbl loads want for key.
func wantValue(t *testing.T, tbl *Table, key, want string) {
	t.Helper()
	got, err := tbl.Load(t.Context(), key)
	if err != nil {
		t.Fatalf("Load(%q): %v", key, err)
	}
	if string(got.Value) != want || got.Value == nil {
		t.Fatalf("Load(%q) = %q, want %q", key, got.Value, want)
	}
}

// wantNotFound checks that tbl reports key as not found.
func wantNotFound(t *testing.T, tbl *Table, key string) {
	t.Helper()
	got, err := tbl.Load(t.Context(), key)
	if !errors.Is(err, cache.ErrNotFound) {
		t.Fatalf("Load(%q) = %q, %v; want ErrNotFound", key, got.Value, err)
	}
}

func TestOpenSeedsDemoRows(t *testing.T) {
	db, path := openTemp(t)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database file: %v", err)
	}
	tbl := table(t, db, DefaultTableConfig(), true)
	for _, row := range demoRows() {
		t.Run(row[0], func(t *testing.T) { wantValue(t, tbl, row[0], row[1]) })
	}
	var mode string
	if err := db.SQL().QueryRowContext(t.Context(), "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v; want wal", mode, err)
	}
}

func TestOpenReopenKeepsRows(t *testing.T) {
	db, path := openTemp(t)
	tbl := table(t, db, DefaultTableConfig(), true)
	ctx := t.Context()
	if err := tbl.Write(ctx, "hello", []byte("changed"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := tbl.Remove(ctx, "answer"); err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(tbl.Close(), db.Close()); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		db, err := Open(ctx, path)
		if err != nil {
			t.Fatalf("reopen %d: %v", i, err)
		}
		tbl := table(t, db, DefaultTableConfig(), false)
		wantValue(t, tbl, "hello", "changed")
		wantNotFound(t, tbl, "answer")
		wantValue(t, tbl, "greeting", "Hello from distcache!")
		var n int
		if err := db.SQL().QueryRowContext(ctx, "SELECT count(*) FROM kv").Scan(&n); err != nil || n != len(demoRows())-1 {
			t.Fatalf("rows = %d, %v; want %d", n, err, len(demoRows())-1)
		}
		_ = tbl.Close()
		_ = db.Close()
	}
}

func TestOpenConcurrently(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared.db")
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			db, err := Open(t.Context(), path)
			if err == nil {
				err = db.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

func TestOpenBadPath(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ name, path string }{
		{"missing directory", filepath.Join(dir, "nope", "distcache.db")},
		{"directory", dir},
		{"parent is a file", filepath.Join(writeFile(t, dir, "file"), "distcache.db")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, err := Open(t.Context(), tc.path)
			if err == nil {
				_ = db.Close()
				t.Fatalf("Open(%q) succeeded", tc.path)
			}
			if !strings.Contains(err.Error(), tc.path) {
				t.Fatalf("error %q does not name %q", err, tc.path)
			}
		})
	}
}

// writeFile makes a small file named name in dir and returns its path.
func writeFile(t *testing.T, dir, name string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoad(t *testing.T) {
	db, _ := openTemp(t)
	exec(t, db, `CREATE TABLE items (id TEXT PRIMARY KEY, body BLOB, at DATETIME, n INTEGER)`,
		`INSERT INTO items VALUES ('null', NULL, '2024-01-02 03:04:05', 7), ('text', 'abc', NULL, NULL),
			('empty', x'', NULL, NULL), ('bytes', x'00ff', NULL, NULL), ('num', 42, NULL, NULL)`)
	body := table(t, db, TableConfig{Table: "items", KeyColumn: "id", ValueColumn: "body"}, false)
	for _, tc := range []struct {
		key, want string
		notFound  bool
	}{
		{key: "text", want: "abc"},
		{key: "empty", want: ""},
		{key: "bytes", want: "\x00\xff"},
		{key: "num", want: "42"},
		{key: "null", notFound: true},
		{key: "missing", notFound: true},
	} {
		t.Run(tc.key, func(t *testing.T) {
			if tc.notFound {
				wantNotFound(t, body, tc.key)
				return
			}
			wantValue(t, body, tc.key, tc.want)
		})
	}
	t.Run("datetime column", func(t *testing.T) {
		at := table(t, db, TableConfig{Table: "items", KeyColumn: "id", ValueColumn: "at"}, false)
		wantValue(t, at, "null", "2024-01-02 03:04:05")
	})
	t.Run("integer column", func(t *testing.T) {
		n := table(t, db, TableConfig{Table: "items", KeyColumn: "id", ValueColumn: "n"}, false)
		wantValue(t, n, "null", "7")
	})
}

func TestLoadCancelledContext(t *testing.T) {
	db, _ := openTemp(t)
	tbl := table(t, db, DefaultTableConfig(), false)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	got, err := tbl.Load(ctx, "hello")
	if err == nil || errors.Is(err, cache.ErrNotFound) {
		t.Fatalf("Load with cancelled context = %q, %v; want a non-ErrNotFound error", got.Value, err)
	}
}

func TestWriteRemove(t *testing.T) {
	db, _ := openTemp(t)
	tbl := table(t, db, DefaultTableConfig(), true)
	ctx := t.Context()
	steps := []struct {
		name string
		do   func() error
		key  string
		want string // the key's value after do, unless gone
		gone bool   // the key is not found after do
	}{
		{"write new", func() error { return tbl.Write(ctx, "new", []byte("v1"), time.Time{}) }, "new", "v1", false},
		{"overwrite", func() error { return tbl.Write(ctx, "new", []byte("v2"), time.Time{}) }, "new", "v2", false},
		{"overwrite demo", func() error { return tbl.Write(ctx, "hello", []byte("there"), time.Time{}) }, "hello", "there", false},
		{"write empty", func() error { return tbl.Write(ctx, "empty", []byte{}, time.Time{}) }, "empty", "", false},
		{"write nil", func() error { return tbl.Write(ctx, "nil", nil, time.Time{}) }, "nil", "", false},
		{"remove", func() error { return tbl.Remove(ctx, "new") }, "new", "", true},
		{"remove missing", func() error { return tbl.Remove(ctx, "never") }, "never", "", true},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if err := s.do(); err != nil {
				t.Fatal(err)
			}
			if s.gone {
				wantNotFound(t, tbl, s.key)
				return
			}
			wantValue(t, tbl, s.key, s.want)
		})
	}
}

func TestConcurrentWriteLoad(t *testing.T) {
	db, _ := openTemp(t)
	tbl := table(t, db, DefaultTableConfig(), true)
	const workers, rounds = 8, 50
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := range workers {
		wg.Go(func() {
			errs[w] = hammer(t.Context(), tbl, w, rounds)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

// hammer writes, loads and removes worker's own keys, and loads a demo row.
func hammer(ctx context.Context, tbl *Table, worker, rounds int) error {
	for i := range rounds {
		key, val := fmt.Sprintf("w%d-%d", worker, i%5), fmt.Sprintf("value %d", i)
		if err := tbl.Write(ctx, key, []byte(val), time.Time{}); err != nil {
			return err
		}
		got, err := tbl.Load(ctx, key)
		if err != nil {
			return err
		}
		if string(got.Value) != val {
			return fmt.Errorf("Load(%q) = %q, want %q", key, got.Value, val)
		}
		if _, err := tbl.Load(ctx, "hello"); err != nil {
			return err
		}
		if i%7 == 0 {
			if err := tbl.Remove(ctx, key); err != nil {
				return err
			}
		}
	}
	return nil
}

// TestOpenConnectionsAreBounded checks that both handles on the database
// bound their open connections, so a flood of loads queues for one.
func TestOpenConnectionsAreBounded(t *testing.T) {
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "x.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got := db.sql.Stats().MaxOpenConnections; got != MaxOpenConns {
		t.Fatalf("the source's handle opens up to %d connections, want %d", got, MaxOpenConns)
	}
	ro, err := db.ReadOnly()
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if got := ro.Stats().MaxOpenConnections; got != MaxOpenConns {
		t.Fatalf("the read-only handle opens up to %d connections, want %d", got, MaxOpenConns)
	}
}

// TestWriteKeepsExpiry: a row written with an expiry loads with the time
// it has left and is not found once it passes; writing it again without
// one, or removing it, clears the expiry.
func TestWriteKeepsExpiry(t *testing.T) {
	db, _ := openTemp(t)
	tbl := table(t, db, DefaultTableConfig(), true)
	ctx := t.Context()
	now := time.Unix(1_800_000_000, 0)
	tbl.now = func() time.Time { return now }
	expiries := func() int {
		var n int
		if err := db.sql.QueryRowContext(ctx, "SELECT count(*) FROM "+ExpiryTable).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	if err := tbl.Write(ctx, "k", []byte("v"), now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	got, err := tbl.Load(ctx, "k")
	if err != nil || string(got.Value) != "v" || got.TTL != time.Minute {
		t.Fatalf("Load with a minute left = %q ttl %v, %v; want v for 1m", got.Value, got.TTL, err)
	}
	now = now.Add(time.Minute)
	if _, err := tbl.Load(ctx, "k"); !errors.Is(err, cache.ErrNotFound) {
		t.Fatalf("Load past the expiry: %v, want not found", err)
	}
	if err := tbl.Write(ctx, "k", []byte("v2"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	if got, err := tbl.Load(ctx, "k"); err != nil || string(got.Value) != "v2" || got.TTL != 0 {
		t.Fatalf("Load after a write without expiry = %q ttl %v, %v; want v2 forever", got.Value, got.TTL, err)
	}
	if n := expiries(); n != 0 {
		t.Fatalf("%d expiry rows after a write without expiry, want 0", n)
	}
	if err := tbl.Write(ctx, "k", []byte("v3"), now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := tbl.Remove(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if n := expiries(); n != 0 {
		t.Fatalf("%d expiry rows after Remove, want 0", n)
	}
}
