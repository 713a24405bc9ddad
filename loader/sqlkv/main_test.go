package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/distcache/distcache/sdk/loader"
)

func TestPlainIdent(t *testing.T) {
	re := regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)
	for _, s := range []string{"", "kv", "K", "_", "_1", "a_b9", "9a", "a-b", "a b", `a"`, "é", "a\x00",
		"[", "`", "@", "{", "a[", "a`", "a@", "a{", "a/", "a:",
		strings.Repeat("a", 63), strings.Repeat("a", 64)} {
		if got, want := plainIdent(s), re.MatchString(s); got != want {
			t.Errorf("plainIdent(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestConfigure(t *testing.T) {
	for _, tc := range []struct {
		name     string
		settings map[string]string
		query    string
		wantErr  string
	}{
		{"defaults", nil, `SELECT "v" FROM "kv" WHERE "k" = ?`, ""},
		{"named", map[string]string{"table": "users", "key_column": "id", "value_column": "name", "ttl": "30s"},
			`SELECT "name" FROM "users" WHERE "id" = ?`, ""},
		{"injection", map[string]string{"table": `kv" --`}, "", "not a plain SQL identifier"},
		{"bad ttl", map[string]string{"ttl": "soon"}, "", "setting ttl"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var l sqlkv
			err := l.Configure(tc.settings)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || l.queries[loader.DialectSQLite] != tc.query {
				t.Errorf("query %q, %v; want %q", l.queries[loader.DialectSQLite], err, tc.query)
			}
			if pg, my := l.queries[loader.DialectPostgres], l.queries[loader.DialectMySQL]; pg != strings.Replace(tc.query, "?", "$1", 1) ||
				my != strings.ReplaceAll(tc.query, `"`, "`") {
				t.Errorf("postgres query %q, mysql query %q for %q", pg, my, tc.query)
			}
		})
	}
}

func TestValueBytes(t *testing.T) {
	for _, tc := range []struct {
		in   any
		want string
	}{{"text", "text"}, {[]byte("\xff\x00blob"), "\xff\x00blob"}, {json.Number("12345678901234567890"), "12345678901234567890"}, {true, "true"}} {
		if got := string(valueBytes(tc.in)); got != tc.want {
			t.Errorf("valueBytes(%#v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
