package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestWasmLoader(t *testing.T) {
	f, err := Parse("g.yaml", []byte(`
groups:
  - name: users
    capacity: 1MiB
    policy: wtinylfu
    loader:
      kind: wasm
      plugin: sqlkv
      settings: {table: users, column: name}
      http_allow: ["https://api.example.com/v1/"]
`))
	if err != nil {
		t.Fatal(err)
	}
	l := f.Groups[0].Loader
	if l.Plugin != "sqlkv" || !reflect.DeepEqual(l.Settings, map[string]string{"table": "users", "column": "name"}) ||
		!reflect.DeepEqual(l.HTTPAllow, []string{"https://api.example.com/v1/"}) || f.Groups[0].Policy != "wtinylfu" {
		t.Fatalf("decoded %+v", l)
	}
}

func TestWasmLoaderErrors(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, field, word string
	}{
		{"no plugin", "loader: {kind: wasm}", "groups[0].loader.plugin", "plugin name"},
		{"bad plugin name", "loader: {kind: wasm, plugin: Bad.Name}", "groups[0].loader.plugin", "plugin name"},
		{"sqlite field on wasm", "loader: {kind: wasm, plugin: p, table: kv}", "groups[0].loader.table", "not a setting of a wasm loader"},
		{"wasm field on sqlite", "loader: {kind: sqlite, plugin: p}", "groups[0].loader.plugin", "not a setting of a sqlite loader"},
		{"settings not a map", "loader: {kind: wasm, plugin: p, settings: [a]}", "groups[0].loader.settings", "mapping"},
		{"setting not a string", "loader: {kind: wasm, plugin: p, settings: {a: [1]}}", "groups[0].loader.settings.a", "string"},
		{"repeated setting", "loader: {kind: wasm, plugin: p, settings: {a: x, a: y}}", "groups[0].loader.settings.a", "repeated"},
		{"http_allow not http", "loader: {kind: wasm, plugin: p, http_allow: [ftp://x]}", "groups[0].loader.http_allow[0]", "http"},
		{"write_through with wasm", "write_through: true\n    loader: {kind: wasm, plugin: p}", "groups[0].write_through", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("g.yaml", []byte("groups:\n  - name: g\n    capacity: 1MiB\n    "+tc.yaml+"\n"))
			var e *Error
			if !errors.As(err, &e) || e.Field != tc.field || !strings.Contains(e.Problem, tc.word) {
				t.Fatalf("Parse = %v, want an *Error at %s mentioning %q", err, tc.field, tc.word)
			}
		})
	}
}
