package plugin

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/distcache/distcache/server/source"
)

func TestLoaderSQLIsReadOnly(t *testing.T) {
	db, err := source.Open(context.Background(), filepath.Join(t.TempDir(), "d.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ro, err := db.ReadOnly()
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	rt := newTestRuntime(t, Config{DB: ro})
	mod, err := rt.Compile(context.Background(), "raw", buildWasm(t, "server/plugin/testdata/rawloader"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := mod.NewLoader("g", LoaderConfig{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := l.Load(context.Background(), "sql:SELECT v, length(v), NULL FROM kv WHERE k = 'hello'")
	if err != nil || string(res.Value) != `[[{"$b64":"d29ybGQ="},5,null]]` { // kv.v is a BLOB
		t.Fatalf("query = %s, %v", res.Value, err)
	}
	for _, stmt := range []string{"DELETE FROM kv", "DROP TABLE kv", "INSERT INTO kv VALUES ('a', 'b')"} {
		if _, err := l.Load(context.Background(), "sql:"+stmt); err == nil || !strings.Contains(err.Error(), "readonly") {
			t.Errorf("%s through sql_query: %v, want refused as readonly", stmt, err)
		}
	}
	if _, err := l.Load(context.Background(), "sql:SELECT nope FROM nowhere"); err == nil || !strings.Contains(err.Error(), "no such") {
		t.Errorf("bad query: %v, want the SQLite error", err)
	}
	var n int
	if err := db.SQL().QueryRow("SELECT count(*) FROM kv").Scan(&n); err != nil || n == 0 {
		t.Fatalf("the table lost its rows: %d, %v", n, err)
	}
}
