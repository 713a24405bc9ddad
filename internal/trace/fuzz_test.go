package trace

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
)

// The fuzz targets read from memory, never the disk, and read at most
// fuzzMaxKeys keys, so that one execution stays cheap. For the same reason
// they skip data that starts with the magic bytes of a compression (see
// looksCompressed): a mutated xz or zstd header can make the decompressor
// allocate hundreds of megabytes, one execution taking seconds. The
// codecs are tested on their own, corrupt and truncated streams included.

// fuzzMaxKeys bounds the keys a fuzz run reads from one trace: an ARC line
// may stand for [MaxRun] keys.
const fuzzMaxKeys = 1 << 12

// traceSeeds are the seeds of the text trace fuzz targets.
var traceSeeds = []string{
	"1\n2\n3\n",
	"# comment\n\n  7  \r\n18446744073709551615\n",
	"0 3\n10 2 extra fields\n",
	"18446744073709551615 1\n18446744073709551614 3\n",
	"5 0\n6 1\n",
	"1 2\nx\n",
	"-1\n",
	"1\t2\n1\v2\n",
	"*\n3\n*\n",
	"1 16777217\n",
	"",
	"key,size\na,1\n\"b,\"\"c\",2\n",
	"3,4\n5\n",
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

// FuzzOpen: Open, plain or gzipped, detects the format a plain reading of
// the first line says, reads the trace as that format's parser reads the
// same bytes, Load reads what Reader reads, and errors name the file.
func FuzzOpen(f *testing.F) {
	for _, s := range traceSeeds {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Add(string(oracle([]uint64{1, 2, 1}, []uint32{3, 4, 5})), false)
	f.Add(string(beKeys(1, 2)), true)
	f.Fuzz(func(t *testing.T, data string, zip bool) {
		const path = "fuzz.trace"
		content := []byte(data)
		if zip {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			_, _ = zw.Write(content)
			_ = zw.Close()
			content = buf.Bytes()
		}
		if !zip && looksCompressed([]byte(data)) {
			return // see the comment above fuzzMaxKeys
		}
		file, err := newFile(path, bytes.NewReader(content), int64(len(content)), FormatAuto, func() error { return nil })
		wantFormat, detectable := detectModel(data)
		if err != nil {
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("Open error %q does not name the file", err)
			}
			var pe, want *ParseError
			if wantFormat == FormatCSV && errors.As(err, &pe) {
				// The first line, which tells the layout, is malformed.
				_, csvErr := collectAtMost(ParseCSV(strings.NewReader(data)))
				if !errors.As(csvErr, &want) || want.Line != pe.Line || want.Err.Error() != pe.Err.Error() {
					t.Fatalf("Open: %v; ParseCSV: %v", err, csvErr)
				}
				return
			}
			if detectable {
				t.Fatalf("Open of a %s trace failed: %v", wantFormat, err)
			}
			return
		}
		defer file.Close()
		if detectable && file.Format != wantFormat || !detectable && file.Format != FormatOracle {
			t.Fatalf("detected %s, want %s (detectable %v)", file.Format, wantFormat, detectable)
		}
		keys, err := collectAtMost(file.Reader())
		var want []uint64
		var wantErr error
		switch file.Format {
		case FormatARC:
			want, wantErr = collectAtMost(ParseARC(strings.NewReader(data)))
		case FormatLIRS:
			want, wantErr = collectAtMost(ParseLIRS(strings.NewReader(data)))
		case FormatCSV:
			want, wantErr = collectAtMost(ParseCSV(strings.NewReader(data)))
		case FormatOracle:
			want, wantErr = collectAtMost(ParseOracle(strings.NewReader(data)))
		}
		if !reflect.DeepEqual(keys, want) {
			t.Fatalf("Open read %v, the parser %v", keys, want)
		}
		var pe *ParseError
		if (err == nil) != (wantErr == nil) || err != nil && (!errors.As(err, &pe) || pe.File != path) {
			t.Fatalf("Open's Reader error %v; the parser's %v", err, wantErr)
		}
		if len(keys) < fuzzMaxKeys {
			checkLoad(t, content, file.Format, keys, err)
		}
	})
}

// checkLoad checks that Load of content in format gives keys and err, as
// the Reader did.
func checkLoad(t *testing.T, content []byte, format Format, keys []uint64, err error) {
	t.Helper()
	file, openErr := newFile("fuzz.trace", bytes.NewReader(content), int64(len(content)), format, func() error { return nil })
	if openErr != nil {
		t.Fatalf("Open again: %v", openErr)
	}
	defer file.Close()
	tr, loadErr := file.Load()
	if fmt.Sprint(loadErr) != fmt.Sprint(err) {
		t.Fatalf("Load error %v, Reader error %v", loadErr, err)
	}
	if loadErr == nil && !slices.Equal(tr.Keys, keys) {
		t.Fatalf("Load read %v, Reader %v", tr.Keys, keys)
	}
}

// FuzzBinary: ParseBinary reads 8-byte words in either byte order, fails
// on a cut last word with its record and offset, and Load agrees.
func FuzzBinary(f *testing.F) {
	f.Add([]byte{})
	f.Add(beKeys(1, 2, 3))
	f.Add(append(beKeys(1), 9))
	f.Add([]byte("12345678\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, format := range []Format{FormatBinary, FormatBinaryLE} {
			order := binary.ByteOrder(binary.BigEndian)
			if format == FormatBinaryLE {
				order = binary.LittleEndian
			}
			keys, err := collectAtMost(ParseBinary(bytes.NewReader(data), order))
			var want []uint64
			for b := data; len(b) >= 8 && len(want) < fuzzMaxKeys; b = b[8:] {
				want = append(want, order.Uint64(b))
			}
			if !slices.Equal(keys, want) {
				t.Fatalf("%s: keys %v, want %v", format, keys, want)
			}
			checkRecordError(t, err, len(data), 8, len(want) < fuzzMaxKeys)
			if len(want) < fuzzMaxKeys {
				checkBinaryLoad(t, data, format, keys, nil, err)
			}
		}
	})
}

// FuzzOracle: ParseOracle reads the id and size of each 24-byte record,
// fails on a cut last record with its index and offset, and Load agrees.
func FuzzOracle(f *testing.F) {
	f.Add([]byte{})
	f.Add(oracle([]uint64{1, 2, 1}, []uint32{10, 20, 30}))
	f.Add(oracle([]uint64{1}, []uint32{1})[:23])
	f.Fuzz(func(t *testing.T, data []byte) {
		r := ParseOracle(bytes.NewReader(data))
		var keys []uint64
		var sizes []uint32
		for k, ok := r.Next(); ok && len(keys) < fuzzMaxKeys; k, ok = r.Next() {
			keys = append(keys, k)
			sizes = append(sizes, uint32(r.Size()))
		}
		var want []uint64
		var wantSizes []uint32
		for b := data; len(b) >= oracleRecord && len(want) < fuzzMaxKeys; b = b[oracleRecord:] {
			want = append(want, binary.LittleEndian.Uint64(b[4:]))
			wantSizes = append(wantSizes, binary.LittleEndian.Uint32(b[12:]))
		}
		if !slices.Equal(keys, want) || !slices.Equal(sizes, wantSizes) {
			t.Fatalf("keys %v sizes %v, want %v %v", keys, sizes, want, wantSizes)
		}
		checkRecordError(t, r.Err(), len(data), oracleRecord, len(want) < fuzzMaxKeys)
		if len(want) < fuzzMaxKeys {
			checkBinaryLoad(t, data, FormatOracle, keys, sizes, r.Err())
		}
	})
}

// checkRecordError checks the error of reading n bytes of records of
// size recSize to the end (if whole).
func checkRecordError(t *testing.T, err error, n, recSize int, whole bool) {
	t.Helper()
	var pe *ParseError
	switch {
	case !whole:
	case n%recSize == 0 && err != nil:
		t.Fatalf("error %v, want none", err)
	case n%recSize != 0 && (!errors.As(err, &pe) || pe.Record != int64(n/recSize) || pe.Offset != int64(n/recSize*recSize)):
		t.Fatalf("error %v, want a ParseError at record %d", err, n/recSize)
	}
}

// checkBinaryLoad checks that Load reads data in format as the Reader
// did, unless Open refuses text as binary.
func checkBinaryLoad(t *testing.T, data []byte, format Format, keys []uint64, sizes []uint32, err error) {
	t.Helper()
	if looksCompressed(data) {
		return
	}
	file, openErr := newFile("fuzz.trace", bytes.NewReader(data), int64(len(data)), format, func() error { return nil })
	if openErr != nil {
		if !looksText(data) {
			t.Fatalf("Open of binary data as %s: %v", format, openErr)
		}
		return
	}
	defer file.Close()
	tr, loadErr := file.Load()
	if fmt.Sprint(loadErr) != fmt.Sprint(withFile(err)) {
		t.Fatalf("Load error %v, Reader error %v", loadErr, err)
	}
	if loadErr == nil && (!slices.Equal(tr.Keys, keys) || sizes != nil && !slices.Equal(tr.Sizes, sizes)) {
		t.Fatalf("Load read %v %v, Reader %v %v", tr.Keys, tr.Sizes, keys, sizes)
	}
}

// looksCompressed reports whether b starts with the magic bytes of a
// compression Open knows.
func looksCompressed(b []byte) bool {
	for _, m := range [][]byte{{0x1f, 0x8b}, {0xfd, '7', 'z', 'X', 'Z', 0}, {0x28, 0xb5, 0x2f, 0xfd}} {
		if bytes.HasPrefix(b, m) {
			return true
		}
	}
	return unsupportedCodec(b[:min(len(b), 10)]) != ""
}

// withFile returns err with the fuzz targets' file name.
func withFile(err error) error {
	var pe *ParseError
	if errors.As(err, &pe) {
		c := *pe
		c.File = "fuzz.trace"
		return &c
	}
	return err
}

// FuzzCSV: ParseCSV reads what a plain reading of the rules reads (for
// lines without quotes), Load reads what the Reader reads, and Open fails
// only where ParseCSV fails on the first line.
func FuzzCSV(f *testing.F) {
	for _, s := range traceSeeds {
		f.Add(s)
	}
	f.Add("obj_id,obj_size\n1,2\n3,4\n")
	f.Add("a\nb\n")
	f.Add("  k , 5 ,x\n")
	f.Fuzz(func(t *testing.T, data string) {
		r := ParseCSV(strings.NewReader(data))
		var keys []uint64
		var sizes []uint32
		for k, ok := r.Next(); ok && len(keys) < fuzzMaxKeys; k, ok = r.Next() {
			keys = append(keys, k)
			sizes = append(sizes, uint32(r.Size()))
		}
		full := len(keys) == fuzzMaxKeys
		err := r.Err()
		if !strings.Contains(data, `"`) && !full {
			wantKeys, wantSizes, wantLine := csvModel(data)
			if !slices.Equal(keys, wantKeys) || !slices.Equal(sizes, wantSizes) {
				t.Fatalf("keys %v sizes %v, want %v %v", keys, sizes, wantKeys, wantSizes)
			}
			var pe *ParseError
			if wantLine == 0 && err != nil || wantLine != 0 && (!errors.As(err, &pe) || pe.Line != wantLine) {
				t.Fatalf("error %v, want one on line %d", err, wantLine)
			}
		}
		if full || looksCompressed([]byte(data)) {
			return
		}
		file, openErr := newFile("fuzz.trace", strings.NewReader(data), int64(len(data)), FormatCSV, func() error { return nil })
		if openErr != nil {
			var pe, want *ParseError
			if errors.As(openErr, &pe) && (!errors.As(err, &want) || pe.Line != want.Line || pe.Err.Error() != want.Err.Error()) {
				t.Fatalf("Open: %v; ParseCSV: %v", openErr, err)
			}
			return
		}
		defer file.Close()
		tr, loadErr := file.Load()
		if fmt.Sprint(loadErr) != fmt.Sprint(withFile(err)) {
			t.Fatalf("Load error %v, Reader error %v", loadErr, err)
		}
		if loadErr == nil && (!slices.Equal(tr.Keys, keys) || file.Sized() && !slices.Equal(tr.Sizes, sizes)) {
			t.Fatalf("Load read %v %v, Reader %v %v", tr.Keys, tr.Sizes, keys, sizes)
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

// modelLines splits data into lines as bufio.ScanLines does, each with
// its 1-based number; ok is false at a line too long for bufio.Scanner.
func modelLines(data string, each func(n int, line string) (more bool)) {
	lines := strings.SplitAfter(data, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for i, l := range lines {
		if !each(i+1, l) {
			return
		}
	}
}

// model reads a trace the plain way: line by line, fields split on spaces
// and tabs. It returns up to fuzzMaxKeys keys and the 1-based line that is
// malformed, or 0. A line too long for bufio.Scanner is malformed too.
func model(data string, line func([]string) (start, count uint64, ok bool)) ([]uint64, int) {
	var keys []uint64
	bad := 0
	modelLines(data, func(n int, l string) bool {
		if len(strings.TrimSuffix(l, "\n")) >= 64<<10 { // bufio.MaxScanTokenSize, with the newline
			bad = n
			return false
		}
		l = string(bytes.TrimSpace([]byte(l)))
		if l == "" || l[0] == '#' {
			return true
		}
		start, count, ok := line(strings.FieldsFunc(l, func(r rune) bool { return r == ' ' || r == '\t' }))
		if !ok {
			bad = n
			return false
		}
		for k := uint64(0); k < count && len(keys) < fuzzMaxKeys; k++ {
			keys = append(keys, start+k)
		}
		return len(keys) < fuzzMaxKeys
	})
	return keys, bad
}

func arcModel(fields []string) (start, count uint64, ok bool) {
	if len(fields) < 2 {
		return 0, 0, false
	}
	start, err1 := strconv.ParseUint(fields[0], 10, 64)
	count, err2 := strconv.ParseUint(fields[1], 10, 64)
	if err1 != nil || err2 != nil || count > 1<<24 || count > 0 && start+(count-1) < start {
		return 0, 0, false
	}
	return start, count, true
}

func lirsModel(fields []string) (start, count uint64, ok bool) {
	if len(fields) != 1 {
		return 0, 0, false
	}
	if fields[0] == "*" {
		return 0, 0, true
	}
	start, err := strconv.ParseUint(fields[0], 10, 64)
	return start, 1, err == nil
}

// detectModel returns the format Open must detect in plain data (not
// compressed) and true, or false if data is not text or its first data
// line within peekSize is none of the text formats.
func detectModel(data string) (Format, bool) {
	if len(data) > peekSize {
		data = data[:peekSize]
	}
	for _, c := range []byte(data) {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\v' && c != '\f' && c != '\r' || c == 0x7f {
			return "", false
		}
	}
	for _, l := range strings.Split(data, "\n") {
		l = string(bytes.TrimSpace([]byte(l)))
		if l == "" || l[0] == '#' || l == "*" {
			continue
		}
		fields := strings.FieldsFunc(l, func(r rune) bool { return r == ' ' || r == '\t' })
		switch _, _, arcOK := arcModel(fields); {
		case strings.Contains(l, ","):
			return FormatCSV, true
		case len(fields) >= 2 && arcOK:
			return FormatARC, true
		}
		if _, _, ok := lirsModel(fields); ok && fields[0] != "*" {
			return FormatLIRS, true
		}
		return "", false
	}
	return FormatLIRS, true
}

// csvModel reads a CSV trace without quotes the plain way. It returns the
// keys, the sizes (0 without a size column) and the malformed line, or 0.
func csvModel(data string) (keys []uint64, sizes []uint32, bad int) {
	keyCol, sizeCol, known := 0, -1, false
	modelLines(data, func(n int, l string) bool {
		if len(strings.TrimSuffix(l, "\n")) >= 64<<10 {
			bad = n
			return false
		}
		l = string(bytes.TrimSpace([]byte(l)))
		if l == "" || l[0] == '#' {
			return true
		}
		fields := strings.Split(l, ",")
		for i := range fields {
			fields[i] = strings.Trim(fields[i], " \t")
		}
		if !known {
			known = true
			lower := make([]string, len(fields))
			for i, f := range fields {
				lower[i] = strings.ToLower(f)
			}
			k, s := -1, -1
			for _, name := range []string{"key", "obj_id", "object_id", "objid", "id"} {
				if i := slices.Index(lower, name); k < 0 && i >= 0 {
					k = i
				}
			}
			for _, name := range []string{"size", "obj_size", "object_size", "bytes"} {
				if i := slices.Index(lower, name); s < 0 && i >= 0 {
					s = i
				}
			}
			switch {
			case k >= 0:
				keyCol, sizeCol = k, s
				return true
			case s >= 0:
				bad = n
				return false
			case len(fields) >= 2:
				sizeCol = 1
			}
		}
		if len(fields) <= max(keyCol, sizeCol) || fields[keyCol] == "" {
			bad = n
			return false
		}
		key, err := strconv.ParseUint(fields[keyCol], 10, 64)
		if err != nil {
			key = fnvKey(fields[keyCol])
		}
		var size uint64
		if sizeCol >= 0 {
			if size, err = strconv.ParseUint(fields[sizeCol], 10, 32); err != nil {
				bad = n
				return false
			}
		}
		keys = append(keys, key)
		sizes = append(sizes, uint32(size))
		return true
	})
	return keys, sizes, bad
}
