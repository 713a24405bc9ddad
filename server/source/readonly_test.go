package source

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadOnlyRefusesWrites(t *testing.T) {
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "ro.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ro, err := db.ReadOnly()
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	var v string
	if err := ro.QueryRow("SELECT v FROM kv WHERE k = 'hello'").Scan(&v); err != nil || v != "world" {
		t.Fatalf("read = %q, %v", v, err)
	}
	for _, stmt := range []string{
		"DELETE FROM kv",
		"INSERT INTO kv(k, v) VALUES ('x', 'y')",
		"DROP TABLE kv",
	} {
		if _, err := ro.Exec(stmt); err == nil || !strings.Contains(err.Error(), "readonly") {
			t.Errorf("%s on the read-only handle: %v, want a readonly error", stmt, err)
		}
	}
	if err := db.SQL().QueryRow("SELECT count(*) FROM kv WHERE k = 'hello'").Scan(new(int)); err != nil {
		t.Fatal(err)
	}
}
