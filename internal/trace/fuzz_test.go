package trace

import (
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// fuzzMaxKeys bounds the keys a fuzz run reads from one trace: an ARC line
// may stand for 2⁶⁴ keys.
const fuzzMaxKeys = 1 << 12

// traceSeeds are the seeds of the trace fuzz targets.
var traceSeeds = []string{
	"1\n2\n3\n",
	"# comment\n\n  7  \r\n18446744073709551615\n",
	"0 3\n10 2 extra fields\n",
	"18446744073709551615 1\n18446744073709551614 3\n",
	"5 0\n6 1\n",
	"1 2\nx\n",
	"-1\n",
	"1\t2\n1\v2\n",
	"",
	strings.Repeat("9", 70000) + "\n",
}

// FuzzParse: ParseARC and ParseLIRS never panic, yield the keys a plain
// reading of the format gives, and fail with a [*ParseError] on the line a
// plain reading finds at fault.
func FuzzParse(f *testing.F) {
	for _, s := range traceSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		for _, format := range []struct {
			name  string
			parse func(r *strings.Reader) Reader
			line  func(fields []string) (start, count uint64, ok bool)
		}{
			{"ARC", func(r *strings.Reader) Reader { return ParseARC(r) }, arcModel},
			{"LIRS", func(r *strings.Reader) Reader { return ParseLIRS(r) }, lirsModel},
		} {
			keys, err := collectAtMost(format.parse(strings.NewReader(data)))
			want, wantLine := model(data, format.line)
			if !reflect.DeepEqual(keys, want) {
				t.Fatalf("%s keys %v, want %v", format.name, keys, want)
			}
			var pe *ParseError
			switch {
			case wantLine == 0 && err != nil:
				t.Fatalf("%s: %v, want no error", format.name, err)
			case wantLine != 0 && (!errors.As(err, &pe) || pe.Line != wantLine):
				t.Fatalf("%s: error %v, want a ParseError on line %d", format.name, err, wantLine)
			}
		}
	})
}

// FuzzOpen: Open reads a file, plain or gzipped, as the parser it detects
// reads the same bytes, and its errors name the file.
func FuzzOpen(f *testing.F) {
	for _, s := range traceSeeds {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Add("\x1f\x8bnot gzip", false)
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data string, zip bool) {
		path := filepath.Join(dir, "trace")
		content := []byte(data)
		if zip {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			_, _ = zw.Write(content)
			_ = zw.Close()
			content = buf.Bytes()
		}
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		r, closer, err := Open(path)
		if err != nil {
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("Open error %q does not name the file", err)
			}
			if zip || len(data) < peekSize && !strings.HasPrefix(data, "\x1f\x8b") {
				t.Fatalf("Open of a readable trace failed: %v", err)
			}
			return
		}
		defer closer.Close()
		keys, err := collectAtMost(r)
		if errors.Is(err, gzip.ErrChecksum) || strings.HasPrefix(data, "\x1f\x8b") && !zip {
			return // data that looks gzipped and is not: only no panic
		}
		parse := ParseLIRS
		if detectModel(data) {
			parse = ParseARC
		}
		want, wantErr := collectAtMost(parse(strings.NewReader(data)))
		if !reflect.DeepEqual(keys, want) {
			t.Fatalf("Open read %v, the parser %v", keys, want)
		}
		var pe *ParseError
		if (err == nil) != (wantErr == nil) || err != nil && (!errors.As(err, &pe) || pe.File != path) {
			t.Fatalf("Open's Reader error %v; the parser's %v", err, wantErr)
		}
	})
}

// collectAtMost reads up to fuzzMaxKeys keys of r and its error.
func collectAtMost(r Reader) ([]uint64, error) {
	var keys []uint64
	for k, ok := r.Next(); ok && len(keys) < fuzzMaxKeys; k, ok = r.Next() {
		keys = append(keys, k)
	}
	if len(keys) == fuzzMaxKeys {
		return keys, nil
	}
	return keys, r.Err()
}

// model reads a trace the plain way: line by line, fields split on spaces
// and tabs. It returns up to fuzzMaxKeys keys and the 1-based line that is
// malformed, or 0. A line too long for bufio.Scanner is malformed too.
func model(data string, line func([]string) (start, count uint64, ok bool)) ([]uint64, int) {
	var keys []uint64
	lines := strings.SplitAfter(data, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for i, l := range lines {
		if len(strings.TrimSuffix(l, "\n")) >= 64<<10 { // bufio.MaxScanTokenSize, with the newline
			return keys, i + 1
		}
		l = string(bytes.TrimSpace([]byte(l)))
		if l == "" || l[0] == '#' {
			continue
		}
		start, count, ok := line(strings.FieldsFunc(l, func(r rune) bool { return r == ' ' || r == '\t' }))
		if !ok {
			return keys, i + 1
		}
		for k := uint64(0); k < count && len(keys) < fuzzMaxKeys; k++ {
			keys = append(keys, start+k)
		}
		if len(keys) == fuzzMaxKeys {
			return keys, 0
		}
	}
	return keys, 0
}

func arcModel(fields []string) (start, count uint64, ok bool) {
	if len(fields) < 2 {
		return 0, 0, false
	}
	start, err1 := strconv.ParseUint(fields[0], 10, 64)
	count, err2 := strconv.ParseUint(fields[1], 10, 64)
	if err1 != nil || err2 != nil || count > 0 && start+(count-1) < start {
		return 0, 0, false
	}
	return start, count, true
}

func lirsModel(fields []string) (start, count uint64, ok bool) {
	if len(fields) != 1 {
		return 0, 0, false
	}
	start, err := strconv.ParseUint(fields[0], 10, 64)
	return start, 1, err == nil
}

// detectModel reports whether the first data line of data's first
// peekSize bytes has two fields or more (ARC).
func detectModel(data string) bool {
	if len(data) > peekSize {
		data = data[:peekSize]
	}
	for _, l := range strings.Split(data, "\n") {
		l = string(bytes.TrimSpace([]byte(l)))
		if l == "" || l[0] == '#' {
			continue
		}
		return len(strings.FieldsFunc(l, func(r rune) bool { return r == ' ' || r == '\t' })) >= 2
	}
	return false
}
