package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// group returns a Group with the defaults a decoded group starts from.
func group(name string, capacity Bytes) Group {
	return Group{Name: name, Capacity: capacity, Policy: "lru", LoadTimeout: Duration(10 * time.Second)}
}

func sqlite() *Loader { return &Loader{Kind: "sqlite", Table: "kv", KeyColumn: "k", ValueColumn: "v"} }

func TestParseGood(t *testing.T) {
	full := group("users", 64*MiB)
	full.TTL = Duration(10 * time.Minute)
	full.NegativeTTL = Duration(30 * time.Second)
	full.LoadTimeout = Duration(5 * time.Second)
	full.Policy = "s3-fifo"
	full.WriteThrough = true
	full.Loader = &Loader{Kind: "sqlite", Table: "Users_2", KeyColumn: "id", ValueColumn: "_blob"}
	mixed := []Group{group("a", 1_000_000_000), group("b", 1024), group("c", 2048)}
	mixed[0].TTL = Duration(90 * time.Minute)
	mixed[1].Loader = sqlite()
	aliased := []Group{group("x", 3*GiB), group("y", 3*GiB)}

	tests := []struct {
		name string
		yaml string
		want []Group
	}{
		{"every field", `
groups:
  - name: users
    capacity: 64MiB
    ttl: 10m
    negative_ttl: 30s
    load_timeout: 5s
    policy: s3-fifo
    write_through: true
    loader:
      kind: sqlite
      table: Users_2
      key_column: id
      value_column: _blob
`, []Group{full}},
		{"defaults", "groups:\n  - name: default\n    capacity: 1024\n", []Group{group("default", 1024)}},
		{"units and loader defaults", `# leading comment
---
groups:
  - {name: a, capacity: 1 GB, ttl: 1h30m, negative_ttl: 0}
  - name: b
    capacity: "1024"
    ttl: 0s
    loader: {kind: sqlite}
  - {name: c, capacity: 2KiB, loader: ~}
`, mixed},
		{"decimal units", "groups: [{name: d, capacity: 5KB}, {name: e, capacity: 7 MB}]\n",
			[]Group{group("d", 5000), group("e", 7_000_000)}},
		{"anchors", "groups:\n  - {name: x, capacity: &c 3GiB}\n  - {name: y, capacity: *c}\n", aliased},
		{"limits", "groups: [{name: z, capacity: 1024 GiB, ttl: 8760h, load_timeout: 10m}]\n",
			[]Group{{Name: "z", Capacity: TiB, TTL: Duration(8760 * time.Hour),
				LoadTimeout: Duration(10 * time.Minute), Policy: "lru"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("good.yaml", []byte(tt.yaml))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(f.Groups, tt.want) {
				t.Errorf("Parse:\n got %+v\nwant %+v", f.Groups, tt.want)
			}
		})
	}
}

func TestSizes(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"64MiB", 67108864}, {"1 GB", 1e9}, {"1024", 1024}, {`"1024"`, 1024}, {"0x10", 16},
		{"3B", 3}, {"2 KiB", 2048}, {"1GiB", 1 << 30}, {"12KB", 12000},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var b Bytes
			if err := yaml.Unmarshal([]byte(tt.in), &b); err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if b.Int64() != tt.want {
				t.Errorf("Unmarshal(%s) = %d, want %d", tt.in, b.Int64(), tt.want)
			}
		})
	}
}

func TestStrings(t *testing.T) {
	tests := []struct {
		in   fmt.Stringer
		want string
	}{
		{64 * MiB, "64MiB"}, {Bytes(1e9), "1GB"}, {Bytes(1001), "1001"}, {Bytes(0), "0"}, {Bytes(-1024), "-1024"},
		{Duration(10 * time.Minute), "10m"}, {maxTTL, "8760h"}, {Duration(90 * time.Minute), "1h30m"},
		{Duration(time.Hour + 10*time.Second), "1h0m10s"}, {Duration(0), "0s"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.in.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDefault(t *testing.T) {
	f := Default()
	if err := validate(checker{}, f); err != nil {
		t.Fatalf("validate(Default()): %v", err)
	}
	g, ok := f.Group("default")
	if !ok || g.Capacity.Int64() != 64<<20 || g.NegativeTTL.Std() != time.Minute ||
		g.LoadTimeout.Std() != 10*time.Second || !g.WriteThrough || g.TTL != 0 || !reflect.DeepEqual(*g.Loader, *sqlite()) {
		t.Errorf(`Group("default") = %+v, %v`, g, ok)
	}
	if _, ok := f.Group("other"); ok {
		t.Errorf(`Group("other") found`)
	}
	data, err := yaml.Marshal(f)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	back, err := Parse("default.yaml", data)
	if err != nil {
		t.Fatalf("Parse(Marshal(Default())): %v\n%s", err, data)
	}
	if !reflect.DeepEqual(back, Default()) {
		t.Errorf("round trip: got %+v, want %+v", back, Default())
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "groups.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	writeFile(t, good, "groups:\n  - name: a\n    capacity: 64MiB\n")
	writeFile(t, bad, "groups:\n  - name: a\n    capacity: -1\n")

	f, err := Load(good)
	if err != nil {
		t.Fatalf("Load(%s): %v", good, err)
	}
	if g, ok := f.Group("a"); !ok || g.Capacity != 64*MiB {
		t.Errorf("Load(%s) = %+v", good, f)
	}

	missing := filepath.Join(dir, "missing.yaml")
	if _, err := Load(missing); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("Load(%s) = %v, want a not-exist error naming the path", missing, err)
	}

	_, err = Load(bad)
	var e *Error
	if !errors.As(err, &e) || e.File != bad || e.Line != 3 || e.Field != "groups[0].capacity" {
		t.Errorf("Load(%s) = %#v", bad, err)
	}
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

func ExampleParse() {
	f, err := Parse("groups.yaml", []byte(`
groups:
  - name: sessions
    capacity: 256MiB
    ttl: 30m
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	g, _ := f.Group("sessions")
	fmt.Println(g.Capacity.Int64(), g.TTL.Std(), g.LoadTimeout.Std(), g.Policy, g.Loader == nil)

	_, err = Parse("groups.yaml", []byte("groups:\n  - name: sessions\n    capacity: 64 MB/s\n"))
	fmt.Println(err)
	// Output:
	// 268435456 30m0s 10s lru true
	// groups.yaml:3: groups[0].capacity: "64 MB/s" is not a size (use a number of bytes or e.g. 64MiB)
}
