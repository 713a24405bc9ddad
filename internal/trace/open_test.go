package trace

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestOpen(t *testing.T) {
	tests := []struct {
		name    string
		content string
		gzip    bool
		want    []uint64
	}{
		{"arc plain", "1 2 0 0\n8 1 0 0\n", false, []uint64{1, 2, 8}},
		{"arc gzip", "1 2 0 0\n8 1 0 0\n", true, []uint64{1, 2, 8}},
		{"lirs plain", "4\n2\n4\n", false, []uint64{4, 2, 4}},
		{"lirs gzip", "4\n2\n4\n", true, []uint64{4, 2, 4}},
		{"comments before arc", "# a 1 2\n\n5 2 0 0\n", false, []uint64{5, 6}},
		{"comments before lirs", "# a\n\n5\n", true, []uint64{5}},
		{"empty", "", false, nil},
		{"empty gzip", "", true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeTrace(t, tt.content, tt.gzip)
			r, c, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			got, err := Collect(r)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestOpenMalformedNamesFileAndLine(t *testing.T) {
	for _, gz := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "gzip"}[gz], func(t *testing.T) {
			path := writeTrace(t, "1 1 0 0\n# c\n2 x 0 0\n", gz)
			r, c, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_, err = Collect(r)
			want := path + ":3: "
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("error %v, want one containing %q", err, want)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.gz")
	if err := os.WriteFile(bad, []byte{0x1f, 0x8b, 1, 2, 3}, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
	}{
		{"missing", filepath.Join(dir, "missing")},
		{"corrupt gzip", bad},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Open(tt.path)
			if err == nil || !strings.Contains(err.Error(), tt.path) {
				t.Fatalf("error %v, want one naming %s", err, tt.path)
			}
		})
	}
}

func TestOpenTruncatedGzip(t *testing.T) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	for i := range 200000 {
		fmt.Fprintf(zw, "%d 1 0 0\n", i*7919%100003)
	}
	zw.Close()
	path := filepath.Join(t.TempDir(), "t.gz")
	if err := os.WriteFile(path, buf.Bytes()[:buf.Len()/2], 0o600); err != nil {
		t.Fatal(err)
	}
	r, c, err := Open(path)
	if err == nil {
		defer c.Close()
		_, err = Collect(r)
	}
	if !errors.Is(err, io.ErrUnexpectedEOF) || !strings.Contains(err.Error(), path) {
		t.Errorf("error %v, want an unexpected EOF naming %s", err, path)
	}
}

// writeTrace writes content to a file in a temporary directory, gzipped if
// gz, and returns its path.
func writeTrace(t *testing.T, content string, gz bool) string {
	t.Helper()
	data := []byte(content)
	if gz {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(data)
		zw.Close()
		data = buf.Bytes()
	}
	path := filepath.Join(t.TempDir(), "trace")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
