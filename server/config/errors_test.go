package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// g1 starts a file of one group named a, so a case adds only its fields
// (from line 4 on, indented four spaces).
const g1 = "groups:\n  - name: a\n    capacity: 1MiB\n"

func TestParseBad(t *testing.T) {
	tests := []struct {
		name  string
		yaml  string
		field string
		word  string // in the Problem
		line  int    // 0: none expected
	}{
		{"empty", "", "groups", "empty", 1},
		{"comments only", "# nothing here\n", "groups", "empty", 1},
		{"null document", "~\n", "groups", "empty", 1},
		{"no groups", "groups: []\n", "groups", "at least one", 1},
		{"only an unknown field", "other: 1\n", "other", "unknown", 1},
		{"groups absent value", "groups:\n", "groups", "at least one", 1},
		{"not YAML", "groups: [\n", "", "valid YAML", 1},
		{"tab indent", "groups:\n\t- name: a\n", "", "valid YAML", 2},
		{"top-level list", "- name: a\n", "", "mapping", 1},
		{"top-level scalar", "hello\n", "", "mapping", 1},
		{"two documents", g1 + "---\ngroups: []\n", "", "more than one", 4},
		{"unknown top field", "group:\n  - name: a\n", "group", "unknown", 1},
		{"unknown group field", g1 + "    colour: red\n", "groups[0].colour", "unknown", 4},
		{"unknown loader field", g1 + "    loader: {kind: sqlite, tabel: x}\n", "groups[0].loader.tabel", "unknown", 4},
		{"repeated field", g1 + "    capacity: 2MiB\n", "groups[0].capacity", "repeated", 4},
		{"groups a mapping", "groups:\n  name: a\n", "groups", "list", 2},
		{"group a scalar", "groups: [a]\n", "groups[0]", "mapping", 1},
		{"null group", "groups: [~]\n", "groups[0].name", "required", 1},
		{"name missing", "groups:\n  - capacity: 1MiB\n", "groups[0].name", "required", 2},
		{"name pattern", "groups:\n  - name: Users\n    capacity: 1\n", "groups[0].name", "valid name", 2},
		{"name too long", "groups: [{name: " + strings.Repeat("a", 64) + ", capacity: 1}]\n", "groups[0].name", "valid name", 1},
		{"name a list", "groups:\n  - name: [a]\n", "groups[0].name", "string", 2},
		{"duplicate name", g1 + "  - name: a\n    capacity: 1\n", "groups[1].name", "duplicate", 4},
		{"capacity missing", "groups:\n  - name: a\n", "groups[0].capacity", "required", 2},
		{"capacity zero", "groups:\n  - name: a\n    capacity: 0\n", "groups[0].capacity", "required", 3},
		{"capacity negative", "groups:\n  - name: a\n    capacity: -5\n", "groups[0].capacity", "> 0", 3},
		{"capacity a list", "groups:\n  - name: a\n    capacity: [1, 2]\n", "groups[0].capacity", "size", 3},
		{"capacity rate", "groups:\n  - name: a\n    capacity: 64 MB/s\n", "groups[0].capacity", "not a size", 3},
		{"capacity lower unit", "groups:\n  - name: a\n    capacity: 64mib\n", "groups[0].capacity", "not a size", 3},
		{"capacity two spaces", "groups:\n  - name: a\n    capacity: 64  MiB\n", "groups[0].capacity", "not a size", 3},
		{"capacity float", "groups:\n  - name: a\n    capacity: 1.5\n", "groups[0].capacity", "not a size", 3},
		{"capacity over 1TiB", "groups:\n  - name: a\n    capacity: 1025 GiB\n", "groups[0].capacity", "too large", 3},
		{"capacity overflow", "groups:\n  - name: a\n    capacity: 99999999999999 GiB\n", "groups[0].capacity", "too large", 3},
		{"ttl no unit", g1 + "    ttl: 10\n", "groups[0].ttl", "not a duration", 4},
		{"ttl a mapping", g1 + "    ttl: {m: 1}\n", "groups[0].ttl", "duration", 4},
		{"ttl negative", g1 + "    ttl: -1s\n", "groups[0].ttl", "negative", 4},
		{"ttl over a year", g1 + "    ttl: 8761h\n", "groups[0].ttl", "too long", 4},
		{"negative_ttl negative", g1 + "    negative_ttl: -5m\n", "groups[0].negative_ttl", "negative", 4},
		{"negative_ttl too long", g1 + "    negative_ttl: 9000h\n", "groups[0].negative_ttl", "too long", 4},
		{"load_timeout zero", g1 + "    load_timeout: 0s\n", "groups[0].load_timeout", "> 0", 4},
		{"load_timeout too long", g1 + "    load_timeout: 11m\n", "groups[0].load_timeout", "too long", 4},
		{"policy pattern", g1 + "    policy: LRU\n", "groups[0].policy", "policy", 4},
		{"policy empty", g1 + "    policy: ''\n", "groups[0].policy", "policy", 4},
		{"write_through no loader", g1 + "    write_through: true\n", "groups[0].write_through", "sqlite", 4},
		{"max_loads negative", g1 + "    max_loads: -1\n", "groups[0].max_loads", "0 to 100000", 4},
		{"max_loads too many", g1 + "    max_loads: 100001\n", "groups[0].max_loads", "0 to 100000", 4},
		{"replicas negative", g1 + "    replicas: -1\n", "groups[0].replicas", "0 to 7", 4},
		{"replicas too many", g1 + "    replicas: 8\n", "groups[0].replicas", "0 to 7", 4},
		{"replicas not a number", g1 + "    replicas: two\n", "groups[0].replicas", "", 4},
		{"write_through not bool", g1 + "    write_through: maybe\n", "groups[0].write_through", "true or false", 4},
		{"loader empty", g1 + "    loader: {}\n", "groups[0].loader.kind", "required", 4},
		{"loader a scalar", g1 + "    loader: sqlite\n", "groups[0].loader", "mapping", 4},
		{"loader kind unknown", g1 + "    loader:\n      kind: redis\n", "groups[0].loader.kind",
			`unknown loader kind "redis" (known: sqlite, postgres, mysql, wasm)`, 5},
		{"table", g1 + "    loader: {kind: sqlite, table: 1kv}\n", "groups[0].loader.table", "identifier", 4},
		{"key_column", g1 + "    loader:\n      kind: sqlite\n      key_column: k-1\n",
			"groups[0].loader.key_column", "identifier", 6},
		{"value_column empty", g1 + "    loader:\n      kind: sqlite\n      value_column: \"\"\n",
			"groups[0].loader.value_column", "identifier", 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("bad.yaml", []byte(tt.yaml))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse = %+v, %v; want an *Error", f, err)
			}
			if e.Field != tt.field || !strings.Contains(e.Problem, tt.word) || e.Line != tt.line {
				t.Errorf("Parse: %q\n got field %q line %d\nwant field %q line %d, problem with %q",
					err, e.Field, e.Line, tt.field, tt.line, tt.word)
			}
			if want := fmt.Sprintf("bad.yaml:%d: ", tt.line); !strings.HasPrefix(err.Error(), want) {
				t.Errorf("Error() = %q, want prefix %q", err, want)
			}
		})
	}
}

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		err  Error
		want string
	}{
		{Error{"g.yaml", 7, "groups[1].ttl", "bad"}, "g.yaml:7: groups[1].ttl: bad"},
		{Error{"g.yaml", 0, "groups", "bad"}, "g.yaml: groups: bad"},
		{Error{"g.yaml", 2, "", "bad"}, "g.yaml:2: bad"},
		{Error{"", 0, "groups[0].name", "bad"}, "groups[0].name: bad"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}
