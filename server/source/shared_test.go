package source

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/distcache/distcache/internal/sqltest"
	"github.com/distcache/distcache/server/cache"
)

// sharedKind is a shared database kind under test, with the DDL of a
// table like the demo one.
type sharedKind struct {
	kind   string
	server func(testing.TB) *sqltest.Server
	kvDDL  string // CREATE TABLE %s (k ..., v ...)
	noPK   string // CREATE TABLE %s with k neither PRIMARY KEY nor UNIQUE
}

var sharedKinds = []sharedKind{
	{KindPostgres, sqltest.Postgres,
		`CREATE TABLE %s (k VARCHAR(250) PRIMARY KEY, v BYTEA NOT NULL)`,
		`CREATE TABLE %s (k VARCHAR(250), v BYTEA)`},
	{KindMySQL, sqltest.MySQL,
		`CREATE TABLE %s (k VARBINARY(250) PRIMARY KEY, v LONGBLOB NOT NULL)`,
		`CREATE TABLE %s (k VARBINARY(250), v LONGBLOB)`},
}

// forEachShared runs f on a fresh database of each shared kind.
func forEachShared(t *testing.T, f func(t *testing.T, k sharedKind, dsn string, raw *sql.DB)) {
	for _, k := range sharedKinds {
		t.Run(k.kind, func(t *testing.T) {
			srv := k.server(t)
			dsn := srv.NewDatabase(t)
			f(t, k, dsn, srv.Open(t, dsn))
		})
	}
}

// openShared opens dsn as a shared database of kind, closed when the
// test ends.
func openShared(t *testing.T, kind, dsn string) *DB {
	t.Helper()
	db, err := OpenShared(t.Context(), SharedConfig{Kind: kind, DSN: dsn})
	if err != nil {
		t.Fatalf("OpenShared: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func rawExec(t *testing.T, raw *sql.DB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := raw.ExecContext(t.Context(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// TestSharedLoad: a shared table loads its rows, numbers as text, and
// not-found for a missing key or a NULL value; a read-only table works on
// a database without the expiry table; names match case-insensitively.
func TestSharedLoad(t *testing.T) {
	forEachShared(t, func(t *testing.T, k sharedKind, dsn string, raw *sql.DB) {
		rawExec(t, raw, fmt.Sprintf(k.kvDDL, "kv"),
			fmt.Sprintf("CREATE TABLE nums (k VARCHAR(20) PRIMARY KEY, n INTEGER, z %s)", blobType(k.kind)),
			"INSERT INTO kv (k, v) VALUES ('hello', 'world')",
			"INSERT INTO nums (k, n, z) VALUES ('one', 1, NULL)")
		db := openShared(t, k.kind, dsn)
		tbl := table(t, db, TableConfig{Table: "KV", KeyColumn: "K", ValueColumn: "v"}, false)
		wantValue(t, tbl, "hello", "world")
		if _, err := tbl.Load(t.Context(), "HELLO"); !errors.Is(err, cache.ErrNotFound) {
			t.Fatalf("Load(HELLO) = %v, want not found (keys compare exactly)", err)
		}
		nums := table(t, db, TableConfig{Table: "nums", KeyColumn: "k", ValueColumn: "n"}, false)
		wantValue(t, nums, "one", "1")
		nulls := table(t, db, TableConfig{Table: "nums", KeyColumn: "k", ValueColumn: "z"}, false)
		if _, err := nulls.Load(t.Context(), "one"); !errors.Is(err, cache.ErrNotFound) {
			t.Fatalf("Load of a NULL value = %v, want not found", err)
		}
		if ok, err := db.hasExpiry(t.Context()); ok || err != nil {
			t.Fatalf("a read-only table made %s (%v)", ExpiryTable, err)
		}
	})
}

func blobType(kind string) string {
	if kind == KindMySQL {
		return "LONGBLOB"
	}
	return "BYTEA"
}

// TestSharedWriteThrough: Write and Remove land in the table, with the
// TTL in the expiry table, honoured by Load, cleared by a write without
// one and by Remove; an empty value stays empty, not NULL.
func TestSharedWriteThrough(t *testing.T) {
	forEachShared(t, func(t *testing.T, k sharedKind, dsn string, raw *sql.DB) {
		rawExec(t, raw, fmt.Sprintf(k.kvDDL, "kv"))
		db := openShared(t, k.kind, dsn)
		tbl := table(t, db, DefaultTableConfig(), true)
		ctx := t.Context()
		now := time.Unix(1_800_000_000, 0)
		tbl.now = func() time.Time { return now }
		row := func(key string) (string, bool) {
			var v []byte
			err := raw.QueryRowContext(ctx, "SELECT v FROM kv WHERE k = "+db.dialect.ph(1), key).Scan(&v)
			if errors.Is(err, sql.ErrNoRows) {
				return "", false
			} else if err != nil {
				t.Fatal(err)
			}
			return string(v), true
		}
		expiries := func() int {
			var n int
			if err := raw.QueryRowContext(ctx, "SELECT count(*) FROM "+ExpiryTable).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}

		if err := tbl.Write(ctx, "a", []byte("1"), time.Time{}); err != nil {
			t.Fatal(err)
		}
		if err := tbl.Write(ctx, "a", []byte("2"), time.Time{}); err != nil {
			t.Fatal(err)
		}
		if v, ok := row("a"); !ok || v != "2" {
			t.Fatalf("row a = %q, %v after two writes; want 2", v, ok)
		}
		if err := tbl.Write(ctx, "A", []byte("upper"), time.Time{}); err != nil {
			t.Fatal(err)
		}
		wantValue(t, tbl, "a", "2")
		if err := tbl.Write(ctx, "empty", nil, time.Time{}); err != nil {
			t.Fatal(err)
		}
		wantValue(t, tbl, "empty", "")

		if err := tbl.Write(ctx, "t", []byte("v"), now.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		got, err := tbl.Load(ctx, "t")
		if err != nil || string(got.Value) != "v" || got.TTL != time.Minute {
			t.Fatalf("Load with a minute left = %q ttl %v, %v; want v for 1m", got.Value, got.TTL, err)
		}
		now = now.Add(time.Minute)
		if _, err := tbl.Load(ctx, "t"); !errors.Is(err, cache.ErrNotFound) {
			t.Fatalf("Load past the expiry: %v, want not found", err)
		}
		if err := tbl.Write(ctx, "t", []byte("v2"), time.Time{}); err != nil {
			t.Fatal(err)
		}
		if got, err := tbl.Load(ctx, "t"); err != nil || string(got.Value) != "v2" || got.TTL != 0 {
			t.Fatalf("Load after a write without expiry = %q ttl %v, %v; want v2 forever", got.Value, got.TTL, err)
		}
		if n := expiries(); n != 0 {
			t.Fatalf("%d expiry rows after a write without expiry, want 0", n)
		}
		if err := tbl.Write(ctx, "t", []byte("v3"), now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if n := expiries(); n != 1 {
			t.Fatalf("%d expiry rows after a write with a TTL, want 1", n)
		}
		if err := tbl.Remove(ctx, "t"); err != nil {
			t.Fatal(err)
		}
		if _, ok := row("t"); ok {
			t.Fatal("row t is still there after Remove")
		}
		if n := expiries(); n != 0 {
			t.Fatalf("%d expiry rows after Remove, want 0", n)
		}
		if err := tbl.Remove(ctx, "missing"); err != nil {
			t.Fatalf("Remove(missing) = %v, want nil", err)
		}
	})
}

// TestSharedConcurrentWriters: tables on two pools (two nodes) write the
// same keys at once in group commits; every write succeeds (deadlocks
// are retried) and each key ends with a value one of them wrote.
func TestSharedConcurrentWriters(t *testing.T) {
	forEachShared(t, func(t *testing.T, k sharedKind, dsn string, raw *sql.DB) {
		rawExec(t, raw, fmt.Sprintf(k.kvDDL, "kv"))
		tables := []*Table{
			table(t, openShared(t, k.kind, dsn), DefaultTableConfig(), true),
			table(t, openShared(t, k.kind, dsn), DefaultTableConfig(), true),
		}
		const writers, writes, keys = 8, 40, 5
		var wg sync.WaitGroup
		errs := make(chan error, writers*writes)
		for w := range writers {
			wg.Go(func() {
				tbl := tables[w%2]
				for i := range writes {
					key := fmt.Sprintf("k%d", (w+i)%keys)
					var exp time.Time
					if i%2 == 0 {
						exp = time.Now().Add(time.Hour)
					}
					if err := tbl.Write(t.Context(), key, fmt.Appendf(nil, "w%d-%d", w, i), exp); err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		for i := range keys {
			got, err := tables[0].Load(t.Context(), fmt.Sprintf("k%d", i))
			if err != nil || !strings.HasPrefix(string(got.Value), "w") {
				t.Errorf("k%d = %q, %v", i, got.Value, err)
			}
		}
	})
}

// TestSharedTableErrors: a missing table or column, or a key that is not
// unique for write-through, is refused with a message naming it.
func TestSharedTableErrors(t *testing.T) {
	forEachShared(t, func(t *testing.T, k sharedKind, dsn string, raw *sql.DB) {
		rawExec(t, raw, fmt.Sprintf(k.kvDDL, "kv"), fmt.Sprintf(k.noPK, "loose"))
		db := openShared(t, k.kind, dsn)
		for _, tc := range []struct {
			cfg      TableConfig
			writable bool
			want     string
		}{
			{TableConfig{Table: "nope", KeyColumn: "k", ValueColumn: "v"}, false, `table "nope" does not exist in ` + k.kind},
			{TableConfig{Table: "kv", KeyColumn: "key", ValueColumn: "v"}, false, `table "kv" has no column "key"`},
			{TableConfig{Table: "kv", KeyColumn: "k", ValueColumn: "val"}, true, `table "kv" has no column "val"`},
			{TableConfig{Table: "loose", KeyColumn: "k", ValueColumn: "v"}, true, "neither PRIMARY KEY nor UNIQUE"},
		} {
			tbl, err := db.Table(t.Context(), tc.cfg, tc.writable)
			if err == nil {
				tbl.Close()
				t.Errorf("Table(%+v) = nil error, want %q", tc.cfg, tc.want)
			} else if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Table(%+v) = %v, want %q", tc.cfg, err, tc.want)
			}
		}
		loose := table(t, db, TableConfig{Table: "loose", KeyColumn: "k", ValueColumn: "v"}, false)
		if _, err := loose.Load(t.Context(), "x"); !errors.Is(err, cache.ErrNotFound) {
			t.Fatalf("read-only Load on a table without a key = %v, want not found", err)
		}
	})
}

// TestOpenSharedErrors: a DSN that does not parse, a server that does not
// answer and a wrong password stop OpenShared with an error naming the
// database, never the password.
func TestOpenSharedErrors(t *testing.T) {
	const pw = "hunter2-not-logged"
	pg := sqltest.Postgres(t)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	for _, tc := range []struct {
		name string
		cfg  SharedConfig
		want string
	}{
		{"bad postgres dsn", SharedConfig{Kind: KindPostgres, DSN: "postgres://u:" + pw + "@h:notaport/db"}, "postgres dsn"},
		{"bad mysql dsn", SharedConfig{Kind: KindMySQL, DSN: "u:" + pw + "@tcp(h:1)db"}, "mysql dsn"},
		{"unknown kind", SharedConfig{Kind: "oracle", DSN: "x"}, "unknown kind"},
		{"postgres not answering", SharedConfig{Kind: KindPostgres,
			DSN: "postgres://u:" + pw + "@127.0.0.1:1/app?sslmode=disable&connect_timeout=2"},
			`connecting to postgres database "app" on 127.0.0.1:1`},
		{"mysql not answering", SharedConfig{Kind: KindMySQL, DSN: "u:" + pw + "@tcp(127.0.0.1:1)/app?timeout=2s"},
			`connecting to mysql database "app" on 127.0.0.1:1`},
		{"postgres wrong password", SharedConfig{Kind: KindPostgres,
			DSN: "postgres://postgres:" + pw + "@" + pg.Addr + "/postgres?sslmode=disable"},
			"connecting to postgres database"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, err := OpenShared(ctx, tc.cfg)
			if err == nil {
				db.Close()
				t.Fatalf("OpenShared = nil error, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("OpenShared = %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), pw) {
				t.Errorf("OpenShared's error shows the password: %v", err)
			}
		})
	}
}

// TestOneStatementDSN: a pool for plugins' queries runs one statement a
// query: go-sql-driver's multiStatements goes, a pgx DSN in the simple
// protocol is refused, and neither error shows the password.
func TestOneStatementDSN(t *testing.T) {
	const pw = "pw-not-shown"
	got, err := OneStatementDSN(KindMySQL, "app:"+pw+"@tcp(db1:3306)/shop?multiStatements=true&parseTime=true")
	if err != nil {
		t.Fatal(err)
	}
	if c, err := mysql.ParseDSN(got); err != nil || c.MultiStatements || !c.ParseTime || c.Passwd != pw || c.DBName != "shop" {
		t.Errorf("OneStatementDSN(mysql) = %q (%+v, %v): want multiStatements off and the rest kept", got, c, err)
	}
	pg := "postgres://app:" + pw + "@db1:5432/shop?sslmode=disable"
	if got, err := OneStatementDSN(KindPostgres, pg); err != nil || got != pg {
		t.Errorf("OneStatementDSN(postgres) = %q, %v; want it unchanged", got, err)
	}
	for _, tc := range []struct{ kind, dsn, want string }{
		{KindPostgres, pg + "&default_query_exec_mode=simple_protocol", "simple_protocol"},
		{KindPostgres, "postgres://app:" + pw + "@db1:notaport/shop", "postgres dsn"},
		{KindMySQL, "app:" + pw + "@tcp(db1:3306)shop", "mysql dsn"},
		{"oracle", "x", "unknown kind"},
	} {
		_, err := OneStatementDSN(tc.kind, tc.dsn)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), pw) {
			t.Errorf("OneStatementDSN(%s, %q) = %v, want an error naming %q without the password", tc.kind, tc.dsn, err, tc.want)
		}
	}
}
