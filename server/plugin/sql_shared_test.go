package plugin

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/distcache/distcache/internal/sqltest"
	"github.com/distcache/distcache/server/source"
)

// sharedSQL are the shared databases a loader's sql_query may read: a
// table of every common column type, one row of it, the query reading it
// and the JSON sql_query must answer.
var sharedSQL = []struct {
	dialect Dialect
	server  func(testing.TB) *sqltest.Server
	ddl     string
	insert  string
	want    string
}{{
	DialectPostgres, sqltest.Postgres,
	`CREATE TABLE t (k VARCHAR(20) PRIMARY KEY, name TEXT, tag VARCHAR(10), bin BYTEA, n BIGINT, f DOUBLE PRECISION, d NUMERIC(10,2), b BOOLEAN, nothing TEXT)`,
	`INSERT INTO t VALUES ('a', 'José <3', 'x', '\xff00'::bytea, 9007199254740993, 1.5, 12.34, true, NULL)`,
	`[["José \u003c3","x",{"$b64":"/wA="},9007199254740993,1.5,"12.34",true,null]]`,
}, {
	DialectMySQL, sqltest.MySQL,
	`CREATE TABLE t (k VARCHAR(20) PRIMARY KEY, name TEXT, tag VARCHAR(10), bin LONGBLOB, n BIGINT, f DOUBLE, d DECIMAL(10,2), b BOOLEAN, nothing TEXT) CHARACTER SET utf8mb4`,
	`INSERT INTO t VALUES ('a', 'José <3', 'x', X'FF00', 9007199254740993, 1.5, 12.34, TRUE, NULL)`,
	`[["José \u003c3","x",{"$b64":"/wA="},9007199254740993,1.5,"12.34",1,null]]`,
}}

// TestLoaderSQLOnSharedDatabases: a group whose loader names a shared
// PostgreSQL or MySQL database reads it through sql_query: sql_dialect
// names it, every column type comes back as the ABI says (text as text
// although the driver hands it over as bytes, BLOB and BYTEA as $b64),
// and no statement that would change the database gets through the
// read-only transaction.
func TestLoaderSQLOnSharedDatabases(t *testing.T) {
	rt := newTestRuntime(t, Config{})
	mod, err := rt.Compile(context.Background(), "raw", buildWasm(t, "server/plugin/testdata/rawloader"))
	if err != nil {
		t.Fatal(err)
	}
	nodb, err := mod.NewLoader("g", LoaderConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if res, err := nodb.Load(context.Background(), "dialect"); err != nil || string(res.Value) != "dialect 0" {
		t.Fatalf("sql_dialect without a database = %q, %v; want dialect 0", res.Value, err)
	}
	if _, err := nodb.Load(context.Background(), "sql:SELECT 1"); err == nil || !strings.Contains(err.Error(), "no database") {
		t.Fatalf("sql_query without a database: %v, want refused", err)
	}
	for _, s := range sharedSQL {
		t.Run(string(s.dialect), func(t *testing.T) {
			srv := s.server(t)
			dsn := srv.NewDatabase(t)
			raw := srv.Open(t, dsn)
			for _, stmt := range []string{s.ddl, s.insert} {
				if _, err := raw.ExecContext(t.Context(), stmt); err != nil {
					t.Fatalf("%s: %v", stmt, err)
				}
			}
			// As the node opens it for a plugin: one statement a query,
			// even where the DSN asks for more.
			if s.dialect == DialectMySQL {
				dsn += map[bool]string{true: "&", false: "?"}[strings.Contains(dsn, "?")] + "multiStatements=true"
			}
			one, err := source.OneStatementDSN(string(s.dialect), dsn)
			if err != nil {
				t.Fatal(err)
			}
			db, err := source.OpenShared(t.Context(), source.SharedConfig{Kind: string(s.dialect), DSN: one})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			l, err := mod.NewLoader("g", LoaderConfig{SQL: &SQLSource{DB: db.SQL(), Dialect: s.dialect}})
			if err != nil {
				t.Fatal(err)
			}
			want := map[Dialect]string{DialectPostgres: "dialect 2", DialectMySQL: "dialect 3"}[s.dialect]
			if res, err := l.Load(t.Context(), "dialect"); err != nil || string(res.Value) != want {
				t.Errorf("sql_dialect = %q, %v; want %s", res.Value, err, want)
			}
			res, err := l.Load(t.Context(), "sql:SELECT name, tag, bin, n, f, d, b, nothing FROM t WHERE k = 'a'")
			if err != nil || string(res.Value) != s.want {
				t.Errorf("row = %s, %v\nwant  %s", res.Value, err, s.want)
			}
			if _, err := l.Load(t.Context(), "sql:SELECT nope FROM nowhere"); err == nil {
				t.Error("a query of a missing table succeeded")
			}
			for _, stmt := range []string{
				"INSERT INTO t (k) VALUES ('b')",
				"UPDATE t SET name = 'changed'",
				"DELETE FROM t",
				"DROP TABLE t",
				"CREATE TABLE u (x INT)",
				"TRUNCATE t",
				"COMMIT",
				"SELECT 1; DROP TABLE t",
				"SELECT 1; COMMIT; DROP TABLE t",
				"/*!50000 DROP TABLE t */ SELECT 1",
				"(SELECT 1); DROP TABLE t",
			} {
				if _, err := l.Load(t.Context(), "sql:"+stmt); err == nil {
					t.Errorf("%s through sql_query succeeded, want refused", stmt)
				}
			}
			checkUnchanged(t, raw)
		})
	}
}

func TestCheckReading(t *testing.T) {
	for _, q := range []string{"SELECT 1", "  select v from t", "\n\tWITH x AS (SELECT 1) SELECT * FROM x", "(SELECT 1) UNION (SELECT 2)",
		"VALUES (1)", "TABLE t", "SHOW TABLES", "EXPLAIN SELECT 1", "describe t", "DESC t", "Select\n1"} {
		if err := checkReading(q); err != nil {
			t.Errorf("checkReading(%q) = %v, want accepted", q, err)
		}
	}
	for _, q := range []string{"", "   ", "DROP TABLE t", "CREATE TABLE u (x INT)", "INSERT INTO t VALUES (1)", "SELECTED", "SELECT_1",
		"/*!50000 DROP TABLE t */ SELECT 1", "-- why\nSELECT 1", "# c\nSELECT 1", "COMMIT", "SET autocommit = 1", "\u00a0SELECT 1", "CALL p()", "DO 1", "HANDLER t OPEN"} {
		err := checkReading(q)
		if err == nil || !strings.Contains(err.Error(), "must begin with SELECT") {
			t.Errorf("checkReading(%q) = %v, want refused naming the verbs", q, err)
		}
	}
}

// checkUnchanged fails t unless table t holds its one row as inserted
// and no table u was made.
func checkUnchanged(t *testing.T, raw *sql.DB) {
	t.Helper()
	var n int
	var name string
	if err := raw.QueryRowContext(t.Context(), "SELECT count(*), max(name) FROM t").Scan(&n, &name); err != nil || n != 1 || name != "José <3" {
		t.Errorf("table t after the refused statements: %d rows, name %q, %v; want 1 row as inserted", n, name, err)
	}
	if _, err := raw.ExecContext(t.Context(), "SELECT * FROM u"); err == nil {
		t.Error("table u exists: a CREATE TABLE got through sql_query")
	}
}
