package config

import (
	"errors"
	"reflect"
	"strconv"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// FuzzParse: Parse never panics, fails only with an [*Error] naming the
// file, and a File it accepts is valid and survives a round trip through
// yaml.Marshal (as MarshalYAML of Bytes and Duration promise).
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"groups:\n  - name: default\n    capacity: 1024\n",
		"groups:\n  - name: users\n    capacity: 64MiB\n    ttl: 10m\n    negative_ttl: 30s\n    load_timeout: 5s\n    policy: s3-fifo\n    write_through: true\n    replicas: 3\n    loader:\n      kind: sqlite\n      table: Users_2\n",
		"groups:\n  - name: w\n    capacity: 1 GB\n    loader:\n      kind: wasm\n      plugin: http\n      settings: {a: b}\n      http_allow: [\"https://x/\"]\n",
		"groups:\n  - &g {name: a, capacity: 3GiB}\n  - {<<: *g, name: b}\n",
		"groups: []\n",
		"groups:\n  - name: a\n    capacity: 99999999999999999999\n",
		"groups:\n  - name: a\n    capacity: 1TiB\n",
		"groups:\n  - name: a\n    capacity: 1KB\n    ttl: -1s\n",
		"groups:\n  - name: a\n    capacity: 1KB\n---\ngroups: []\n",
		"groups:\n  - name: a\n    name: b\n",
		"[1, 2]",
		"",
		"\t:",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		file, err := Parse("groups.yaml", []byte(data))
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.File != "groups.yaml" || e.Problem == "" {
				t.Fatalf("Parse error %#v is not an *Error naming the file", err)
			}
			return
		}
		if err := validate(checker{file: "re"}, file); err != nil {
			t.Fatalf("Parse accepted an invalid File: %v", err)
		}
		// A wasm loader does not round-trip: Marshal writes the sqlite
		// defaults (table, key_column, value_column), which Parse then
		// refuses for kind wasm. Round-trip the other groups.
		file = withoutWasmLoaders(file)
		if len(file.Groups) == 0 {
			return
		}
		out, err := yaml.Marshal(file)
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		again, err := Parse("again.yaml", out)
		if err != nil {
			t.Fatalf("the marshalled File does not parse: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(file, again) {
			t.Fatalf("round trip changed the File:\n%#v\n%#v\n%s", file, again, out)
		}
	})
}

// withoutWasmLoaders returns a copy of f without its groups whose loader is
// of kind wasm.
func withoutWasmLoaders(f *File) *File {
	out := &File{}
	for _, g := range f.Groups {
		if g.Loader == nil || g.Loader.Kind != kindWasm {
			out.Groups = append(out.Groups, g)
		}
	}
	return out
}

// FuzzBytes: a size string that parses names what String writes back, and
// String of any size parses back to it.
func FuzzBytes(f *testing.F) {
	for _, s := range []string{"0", "1024", "64MiB", "1 GB", "3KiB", "1B", "9223372036854775807",
		"9223372036854775807B", "9223372036854775807KB", "8796093022208GiB", "1  MB", "1mb", "-1", "", " 1", "1e3"} {
		f.Add(s, int64(len(s)))
	}
	f.Add("", int64(-1))
	f.Add("", int64(1<<62))
	f.Fuzz(func(t *testing.T, s string, n int64) {
		if b, problem := parseBytes(s); problem == "" {
			if b < 0 {
				t.Fatalf("parseBytes(%q) = %d, negative", s, b)
			}
			if back, p := parseBytes(b.String()); p != "" || back != b {
				t.Fatalf("parseBytes(%q) = %d; its String %q parses to %d, %q", s, b, b.String(), back, p)
			}
		}
		b := Bytes(n)
		back, problem := parseBytes(b.String())
		switch {
		case n >= 0 && (problem != "" || back != b):
			t.Fatalf("Bytes(%d).String() = %q parses to %d, %q", n, b.String(), back, problem)
		case n < 0 && problem == "":
			t.Fatalf("Bytes(%d).String() = %q parses as a size", n, b.String())
		}
		// The YAML path agrees with parseBytes, and integers are bytes.
		var y Bytes
		err := y.UnmarshalYAML(&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s, Line: 7})
		if want, p := parseBytes(s); (err == nil) != (p == "") || err == nil && y != want {
			t.Fatalf("UnmarshalYAML(%q) = %d, %v; parseBytes = %d, %q", s, y, err, want, p)
		}
		var e *Error
		if err != nil && (!errors.As(err, &e) || e.Line != 7) {
			t.Fatalf("UnmarshalYAML(%q) error %#v has no line", s, err)
		}
		if err := y.UnmarshalYAML(&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(n, 10)}); err != nil || y != b {
			t.Fatalf("UnmarshalYAML(!!int %d) = %d, %v", n, y, err)
		}
	})
}

// FuzzDuration: UnmarshalYAML reads what time.ParseDuration reads, and
// String of any Duration reads back to it.
func FuzzDuration(f *testing.F) {
	for _, s := range []string{"0", "30s", "10m", "1h30m", "8760h", "1.5h", "-1s", "1d", "", "9223372036854775807ns", "1e3s"} {
		f.Add(s, int64(len(s)))
	}
	f.Add("", int64(-1<<63))
	f.Fuzz(func(t *testing.T, s string, n int64) {
		var d Duration
		err := d.UnmarshalYAML(&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s, Line: 3})
		want, werr := time.ParseDuration(s)
		if (err == nil) != (werr == nil) || err == nil && d.Std() != want {
			t.Fatalf("UnmarshalYAML(%q) = %v, %v; time.ParseDuration = %v, %v", s, d, err, want, werr)
		}
		var e *Error
		if err != nil && (!errors.As(err, &e) || e.Line != 3) {
			t.Fatalf("UnmarshalYAML(%q) error %#v has no line", s, err)
		}
		back, err := time.ParseDuration(Duration(n).String())
		if err != nil || back != time.Duration(n) {
			t.Fatalf("Duration(%d).String() = %q parses to %v, %v", n, Duration(n).String(), back, err)
		}
	})
}
