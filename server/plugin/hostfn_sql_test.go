package plugin

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/distcache/distcache/server/source"
)

// nonUTF8 is a BLOB that is not UTF-8: every byte value, NUL and the
// invalid sequences among them.
var nonUTF8 = func() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(255 - i)
	}
	return b
}()

// sqlRuntime is a runtime whose loaders read a fresh database, with a
// row holding nonUTF8 in kv.
func sqlRuntime(t *testing.T) *testRuntime {
	t.Helper()
	db, err := source.Open(context.Background(), filepath.Join(t.TempDir(), "d.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.SQL().Exec(`INSERT INTO kv (k, v) VALUES ('bin', ?), ('empty', X'')`, nonUTF8); err != nil {
		t.Fatal(err)
	}
	ro, err := db.ReadOnly()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ro.Close() })
	return newTestRuntime(t, Config{DB: ro})
}

func loaderOf(t *testing.T, rt *testRuntime, pkg string) *GroupLoader {
	t.Helper()
	mod, err := rt.Compile(context.Background(), filepath.Base(pkg), buildWasm(t, pkg))
	if err != nil {
		t.Fatal(err)
	}
	l, err := mod.NewLoader("g", LoaderConfig{})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestSQLBlobRoundTrip: a BLOB that is not UTF-8 reaches a Go guest byte
// for byte, through the sqlkv plugin and the SDK's decoding; TEXT still
// comes back as text.
func TestSQLBlobRoundTrip(t *testing.T) {
	rt := sqlRuntime(t)
	l := loaderOf(t, rt, "loader/sqlkv")
	for key, want := range map[string][]byte{"bin": nonUTF8, "empty": {}, "hello": []byte("world")} {
		res, err := l.Load(context.Background(), key)
		if err != nil || !bytes.Equal(res.Value, want) {
			t.Errorf("%s = %x, %v; want %x", key, res.Value, err, want)
		}
	}
	raw := loaderOf(t, rt, "server/plugin/testdata/rawloader")
	res, err := raw.Load(context.Background(), `sql:SELECT CAST(X'FF00' AS BLOB), 'é', CAST('t' AS BLOB), 1.5, -9007199254740993`)
	if want := `[[{"$b64":"/wA="},"é",{"$b64":"dA=="},1.5,-9007199254740993]]`; err != nil || string(res.Value) != want {
		t.Errorf("raw rows = %s, %v; want %s", res.Value, err, want)
	}
}

// TestSQLArgs: arguments bind as their JSON types, {"$b64": ...} as a
// BLOB, and anything else is refused with its position.
func TestSQLArgs(t *testing.T) {
	rt := sqlRuntime(t)
	for _, tc := range []struct {
		args, want, wantErr string
	}{
		{`[{"$b64":"/wD+"},"s",9007199254740993,1.5,null,true]`,
			`[[{"$b64":"/wD+"},"blob","text",9007199254740993,"integer",1.5,null,1]]`, ""},
		{`[{"$b64":"not base64!"}]`, "", `argument 0: $b64: illegal base64`},
		{`["a",{"x":"y"}]`, "", `argument 1: an object other than {"$b64": base64}`},
		{`[[1]]`, "", "argument 0 is a []interface {}"},
		{`{"a":1}`, "", "cannot unmarshal"},
		{`[1] [2]`, "", "trailing data"},
	} {
		t.Run(tc.args, func(t *testing.T) {
			args, err := decodeArgs([]byte(tc.args))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := queryJSON(context.Background(), rt.cfg.DB,
				`SELECT ?1, typeof(?1), typeof(?2), ?3, typeof(?3), ?4, ?5, ?6`, args, sqlLimits{rows: 10, bytes: 1 << 10})
			if err != nil || string(got) != tc.want {
				t.Errorf("rows = %s, %v; want %s", got, err, tc.want)
			}
		})
	}
}

// TestSQLCaps: a result past the row cap or the byte cap (a quarter of the
// plugin memory) fails with a message naming the cap, and the loader
// keeps serving.
func TestSQLCaps(t *testing.T) {
	rt := sqlRuntime(t)
	l := loaderOf(t, rt, "server/plugin/testdata/rawloader")
	series := func(n int, col string) string {
		return fmt.Sprintf(`sql:WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n+1 FROM r WHERE n < %d) SELECT %s FROM r`, n, col)
	}
	for _, tc := range []struct {
		name, key, want string
	}{
		{"rows", series(maxSQLRows+1, "n"), fmt.Sprintf("sql_query: more than %d rows, the cap", maxSQLRows)},
		{"bytes", series(5000, "zeroblob(4096)"), fmt.Sprintf("sql_query: the result is over the %d-byte cap (a quarter of the plugin memory)", DefaultMemoryLimitMiB<<20/4)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := l.Load(context.Background(), tc.key); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	res, err := l.Load(context.Background(), series(maxSQLRows, "n"))
	if err != nil || !bytes.HasSuffix(res.Value, []byte(fmt.Sprintf(",[%d]]", maxSQLRows))) {
		t.Errorf("%d rows: %.40s..., %v", maxSQLRows, res.Value, err)
	}
}
