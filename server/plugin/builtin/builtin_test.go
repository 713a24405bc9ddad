package builtin

import (
	"compress/gzip"
	"io"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestEveryGoPluginIsBuiltIn: the embedded files are exactly the Go
// plugins of policy/ and loader/, each a gzipped WebAssembly module with a
// header that holds no name and no time (so rebuilds are reproducible).
func TestEveryGoPluginIsBuiltIn(t *testing.T) {
	var want []string
	for _, pattern := range []string{"../../../policy/*/main.go", "../../../loader/*/main.go"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range m {
			want = append(want, filepath.Base(filepath.Dir(f))+".wasm.gz")
		}
	}
	got, err := fs.Glob(FS(), "*")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(want)
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Fatalf("embedded %v, want %v: run go tool task builtins", got, want)
	}
	for _, name := range got {
		t.Run(strings.TrimSuffix(name, ".wasm.gz"), func(t *testing.T) {
			f, err := FS().Open(name)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			zr, err := gzip.NewReader(f)
			if err != nil {
				t.Fatal(err)
			}
			if zr.Name != "" || !zr.ModTime.IsZero() || zr.Comment != "" {
				t.Errorf("gzip header has name %q, time %v, comment %q: want none", zr.Name, zr.ModTime, zr.Comment)
			}
			head := make([]byte, 4)
			if _, err := io.ReadFull(zr, head); err != nil || string(head) != "\x00asm" {
				t.Fatalf("module starts %q, %v; want the wasm magic", head, err)
			}
			if _, err := io.Copy(io.Discard, zr); err != nil {
				t.Fatal(err)
			}
		})
	}
}
