package trace

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// codecs are the compressions Open undoes, and none.
var codecs = []string{"", CodecGzip, CodecXZ, CodecZstd}

// compress returns data compressed with codec ("" for none).
func compress(t testing.TB, data []byte, codec string) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.WriteCloser
	var err error
	switch codec {
	case "":
		return data
	case CodecGzip:
		w = gzip.NewWriter(&buf)
	case CodecXZ:
		w, err = xz.NewWriter(&buf)
	case CodecZstd:
		w, err = zstd.NewWriter(&buf, zstd.WithEncoderConcurrency(1))
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// writeFile writes data to name in a temporary directory and returns its
// path.
func writeFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// beKeys and leKeys write keys as 8-byte big- or little-endian words.
func beKeys(keys ...uint64) []byte {
	var b []byte
	for _, k := range keys {
		b = binary.BigEndian.AppendUint64(b, k)
	}
	return b
}

func leKeys(keys ...uint64) []byte {
	var b []byte
	for _, k := range keys {
		b = binary.LittleEndian.AppendUint64(b, k)
	}
	return b
}

// oracle writes oracleGeneral records of keys and sizes, with timestamps
// and next accesses as libCacheSim writes them.
func oracle(keys []uint64, sizes []uint32) []byte {
	var b []byte
	for i, k := range keys {
		next := int64(-1)
		if j := slices.Index(keys[i+1:], k); j >= 0 {
			next = int64(i + 1 + j)
		}
		b = binary.LittleEndian.AppendUint32(b, uint32(1000+i))
		b = binary.LittleEndian.AppendUint64(b, k)
		b = binary.LittleEndian.AppendUint32(b, sizes[i])
		b = binary.LittleEndian.AppendUint64(b, uint64(next))
	}
	return b
}

func fnvKey(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

// formatCases are small traces of every format, each with the name it is
// written under, the format Open is asked for, and what it must read.
var formatCases = []struct {
	name    string
	file    string
	content []byte
	ask     Format
	format  Format
	keys    []uint64
	sizes   []uint32 // nil: not sized
}{
	{"arc", "t", []byte("1 2 0 0\n8 1 0 0\n"), FormatAuto, FormatARC, []uint64{1, 2, 8}, nil},
	{"arc by name", "t.arc", []byte("5\n"), FormatAuto, FormatARC, nil, nil}, // the name wins: a malformed ARC line
	{"lirs", "t", []byte("4\n2\n4\n"), FormatAuto, FormatLIRS, []uint64{4, 2, 4}, nil},
	{"lirs stars", "t.trc", []byte("*\n4\n*\n2\n"), FormatAuto, FormatLIRS, []uint64{4, 2}, nil},
	{"lirs star first", "t", []byte("# c\n*\n7\n"), FormatAuto, FormatLIRS, []uint64{7}, nil},
	{"comments before arc", "t", []byte("# a 1 2\n\n5 2 0 0\n"), FormatAuto, FormatARC, []uint64{5, 6}, nil},
	{"empty", "t", nil, FormatAuto, FormatLIRS, nil, nil},
	{"binary", "t.bin", beKeys(1, 1<<40, 1), FormatAuto, FormatBinary, []uint64{1, 1 << 40, 1}, nil},
	{"binary asked", "t", beKeys(3, 2, 1), FormatBinary, FormatBinary, []uint64{3, 2, 1}, nil},
	{"corda alias", "t", beKeys(3), "corda", FormatBinary, []uint64{3}, nil},
	{"binary-le", "t", leKeys(3, 1<<50), FormatBinaryLE, FormatBinaryLE, []uint64{3, 1 << 50}, nil},
	{"oracle sniffed", "t", oracle([]uint64{7, 9, 7}, []uint32{100, 0, 100}), FormatAuto, FormatOracle,
		[]uint64{7, 9, 7}, []uint32{100, 0, 100}},
	{"oracle by name", "w01.oracleGeneral.bin", oracle([]uint64{1 << 60}, []uint32{5}), FormatAuto, FormatOracle,
		[]uint64{1 << 60}, []uint32{5}},
	{"csv header", "t", []byte("time,obj_id,obj_size\n1,10,100\n2,11,200\n"), FormatAuto, FormatCSV,
		[]uint64{10, 11}, []uint32{100, 200}},
	{"csv key header", "t.csv", []byte("key\nabc\n12\n"), FormatAuto, FormatCSV, []uint64{fnvKey("abc"), 12}, nil},
	{"csv no header", "t", []byte("5,64\n\"a,b\", 1\n"), FormatAuto, FormatCSV, []uint64{5, fnvKey("a,b")}, []uint32{64, 1}},
	{"csv keys only", "t", []byte("x\ny\n"), FormatCSV, FormatCSV, []uint64{fnvKey("x"), fnvKey("y")}, nil},
}

func TestOpenFormatsAndCodecs(t *testing.T) {
	for _, tt := range formatCases {
		for _, codec := range codecs {
			t.Run(tt.name+"/"+codec, func(t *testing.T) {
				path := writeFile(t, tt.file+map[string]string{CodecGzip: ".gz", CodecXZ: ".xz", CodecZstd: ".zst"}[codec],
					compress(t, tt.content, codec))
				for _, load := range []bool{false, true} {
					f, err := Open(path, tt.ask)
					if err != nil {
						t.Fatal(err)
					}
					if f.Format != tt.format || f.Codec != codec || f.Sized() != (tt.sizes != nil) {
						t.Fatalf("format %s, codec %q, sized %v; want %s, %q, %v",
							f.Format, f.Codec, f.Sized(), tt.format, codec, tt.sizes != nil)
					}
					keys, sizes, err := readAll(f, load)
					f.Close()
					if tt.name == "arc by name" {
						if err == nil || !strings.Contains(err.Error(), path+":1:") {
							t.Fatalf("error %v, want one on %s:1", err, path)
						}
						continue
					}
					if err != nil {
						t.Fatal(err)
					}
					if !slices.Equal(keys, tt.keys) || !slices.Equal(sizes, tt.sizes) {
						t.Errorf("load=%v: keys %v sizes %v, want %v %v", load, keys, sizes, tt.keys, tt.sizes)
					}
				}
			})
		}
	}
}

// readAll reads f with Load or with its Reader.
func readAll(f *File, load bool) ([]uint64, []uint32, error) {
	if load {
		tr, err := f.Load()
		if err != nil {
			return nil, nil, err
		}
		return tr.Keys, tr.Sizes, nil
	}
	if s, ok := f.Reader().(Sized); ok {
		return CollectSized(s)
	}
	k, err := Collect(f.Reader())
	return k, nil, err
}

func TestParseFormat(t *testing.T) {
	for in, want := range map[string]Format{"": FormatAuto, "ARC": FormatARC, "lirs": FormatLIRS, "oracleGeneral": FormatOracle,
		"scarab": FormatBinary, " csv ": FormatCSV, "binary-le": FormatBinaryLE} {
		if got, err := ParseFormat(in); err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	_, err := ParseFormat("parquet")
	want := `unsupported format "parquet"; want one of auto, arc, lirs, binary, binary-le, oracle, csv`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error %v, want %q", err, want)
	}
	if _, err := Open("whatever", "parquet"); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Open: error %v, want %q", err, want)
	}
}

// TestOpenRefuses: what Open cannot read fails at Open with an error that
// names the file and says what to do.
func TestOpenRefuses(t *testing.T) {
	random := make([]byte, 4096)
	for i := range random {
		random[i] = byte(Mix(uint64(i)))
	}
	tests := []struct {
		name    string
		content []byte
		format  Format
		want    string
	}{
		{"undetectable binary", random, FormatAuto, "-format binary"},
		{"undetectable text", []byte("# x\nhello world\n"), FormatAuto, `line 2 "hello world" is not ARC`},
		{"text asked as binary", []byte("1\n2\n"), FormatBinary, "this is text"},
		{"text asked as oracle", []byte("1 2 3\n"), FormatOracle, "this is text"},
		{"binary asked as arc", beKeys(1, 2), FormatARC, "binary data"},
		{"bzip2", []byte("BZh91AY&SY\x00\x01"), FormatAuto, "bzip2"},
		{"lz4", []byte{0x04, 0x22, 0x4d, 0x18, 1, 2}, FormatAuto, "lz4"},
		{"zip", []byte("PK\x03\x04rest"), FormatAuto, "zip"},
		{"corrupt gzip", []byte{0x1f, 0x8b, 1, 2, 3}, FormatAuto, "gzip"},
		{"corrupt xz", []byte{0xfd, '7', 'z', 'X', 'Z', 0, 9, 9, 9, 9, 9, 9}, FormatAuto, "xz"},
		{"csv header without key", []byte("size,time\n1,2\n"), FormatAuto, "names no key column"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, "trace", tt.content)
			f, err := Open(path, tt.format)
			if err == nil {
				f.Close()
				t.Fatalf("Open(%s) succeeded, format %s", tt.format, f.Format)
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q, want one naming %s and containing %q", err, path, tt.want)
			}
		})
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing"), FormatAuto); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing file: error %v", err)
	}
}

// TestOpenMalformedNamesWhere: a trace that fails part way names the file
// and the line, or the record and its offset, with or without Load.
func TestOpenMalformedNamesWhere(t *testing.T) {
	tests := []struct {
		name, file string
		content    []byte
		format     Format
		want       string
	}{
		{"arc", "t", []byte("1 1 0 0\n# c\n2 x 0 0\n"), FormatAuto, ":3: "},
		{"lirs", "t", []byte("1\n2\nx\n"), FormatAuto, ":3: "},
		{"arc run too long", "t", []byte("1 1\n1 16777217\n"), FormatAuto, ":2: "},
		{"csv size", "t", []byte("key,size\na,1\nb,-1\n"), FormatAuto, ":3: size \"-1\""},
		{"csv size over 4 GiB", "t", []byte("a,4294967296\n"), FormatAuto, ":1: size"},
		{"csv quote", "t", []byte("a,1\n\"b,2\n"), FormatAuto, ":2: CSV line"},
		{"csv short line", "t", []byte("key,size\na,1\nb\n"), FormatAuto, ":3: CSV line \"b\": want 2 fields"},
		{"binary cut", "t", append(beKeys(1, 2), 1, 2, 3), FormatBinary, ": record 2 at byte offset 16: the trace ends 3 bytes into the record, of 8 bytes"},
		{"oracle cut", "t.oracleGeneral", oracle([]uint64{1, 2}, []uint32{1, 1})[:40], FormatAuto, ": record 1 at byte offset 24:"},
		{"long line", "t", []byte("1\n" + strings.Repeat("2", MaxLine+1) + "\n"), FormatLIRS, ":2: bufio.Scanner: token too long"},
	}
	for _, tt := range tests {
		for _, codec := range []string{"", CodecGzip} {
			for _, load := range []bool{false, true} {
				t.Run(fmt.Sprint(tt.name, "/", codec, "/load=", load), func(t *testing.T) {
					path := writeFile(t, tt.file, compress(t, tt.content, codec))
					f, err := Open(path, tt.format)
					if err != nil {
						t.Fatal(err)
					}
					defer f.Close()
					_, _, err = readAll(f, load)
					if err == nil || !strings.Contains(err.Error(), path+tt.want) {
						t.Fatalf("error %v, want one containing %q", err, path+tt.want)
					}
					var pe *ParseError
					if !errors.As(err, &pe) {
						t.Fatalf("error %T, want a *ParseError", err)
					}
				})
			}
		}
	}
}

func TestOpenTruncated(t *testing.T) {
	var text bytes.Buffer
	for i := range 50000 {
		fmt.Fprintf(&text, "%d 1 0 0\n", i*7919%100003)
	}
	for _, codec := range codecs[1:] {
		for _, load := range []bool{false, true} {
			t.Run(fmt.Sprint(codec, "/load=", load), func(t *testing.T) {
				z := compress(t, text.Bytes(), codec)
				path := writeFile(t, "t", z[:len(z)/2])
				f, err := Open(path, FormatAuto)
				if err == nil {
					defer f.Close()
					_, _, err = readAll(f, load)
				}
				if !errors.Is(err, io.ErrUnexpectedEOF) || !strings.Contains(err.Error(), path) {
					t.Errorf("error %v, want an unexpected EOF naming %s", err, path)
				}
			})
		}
	}
}

// TestLoadMatchesReader: on traces of many chunks, Load reads what the
// Reader reads, and fails on the same line or record.
func TestLoadMatchesReader(t *testing.T) {
	defer func(c, f int) { chunkSize, firstChunk = c, f }(chunkSize, firstChunk)
	chunkSize, firstChunk = 16<<10, 4<<10
	chunkBufs = sync.Pool{New: func() any { b := make([]byte, chunkSize); return &b }}
	defer func() { chunkBufs = sync.Pool{New: func() any { b := make([]byte, chunkSize); return &b }} }()
	var arc, lirs, csv bytes.Buffer
	var keys []uint64
	csv.WriteString("# a comment\nid,bytes\n")
	for i := range 30000 {
		k := Mix(uint64(i)) % 50000
		keys = append(keys, k)
		fmt.Fprintf(&arc, "%d %d 0 0\n", k, i%3)
		fmt.Fprintf(&lirs, "%d\r\n", k)
		fmt.Fprintf(&csv, "%d , %d\n", k, i%1000)
	}
	bad := func(b []byte, at int, junk string) []byte {
		i := bytes.IndexByte(b[at:], '\n') + at + 1
		return slices.Concat(b[:i], []byte(junk), b[i:])
	}
	tests := []struct {
		name    string
		content []byte
		format  Format
	}{
		{"arc", arc.Bytes(), FormatARC},
		{"lirs", lirs.Bytes(), FormatLIRS},
		{"csv", csv.Bytes(), FormatCSV},
		{"binary", beKeys(keys...), FormatBinary},
		{"oracle", oracle(keys[:5000], make([]uint32, 5000)), FormatOracle},
		{"arc bad late", bad(arc.Bytes(), arc.Len()-100, "x\n"), FormatARC},
		{"lirs bad at chunk edge", bad(lirs.Bytes(), 4<<10+8<<10-3, "1 2\n"), FormatLIRS},
		{"csv bad", bad(csv.Bytes(), 100<<10+5, "a\n"), FormatCSV},
		{"long line across chunks", bad(lirs.Bytes(), 50<<10, strings.Repeat(" ", 40<<10)+"5\n"), FormatLIRS},
		{"too long across chunks", bad(lirs.Bytes(), 50<<10, strings.Repeat(" ", MaxLine)+"5\n"), FormatLIRS},
		{"binary cut", beKeys(keys...)[:8*len(keys)-5], FormatBinary},
		{"no final newline", lirs.Bytes()[:lirs.Len()-2], FormatLIRS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, "t", compress(t, tt.content, CodecGzip))
			var got [2][]uint64
			var gotSizes [2][]uint32
			var errs [2]error
			for i, load := range []bool{false, true} {
				f, err := Open(path, tt.format)
				if err != nil {
					t.Fatal(err)
				}
				if load {
					tr, err := f.Load()
					errs[i] = err
					if err == nil {
						got[i], gotSizes[i] = tr.Keys, tr.Sizes
					}
					if _, _, n := f.Progress(); err == nil && n != int64(len(tr.Keys)) {
						t.Errorf("Progress counted %d requests, Load read %d", n, len(tr.Keys))
					}
				} else if s, ok := f.Reader().(Sized); ok {
					got[i], gotSizes[i], errs[i] = CollectSized(s)
				} else {
					got[i], errs[i] = Collect(f.Reader())
				}
				f.Close()
			}
			if fmt.Sprint(errs[0]) != fmt.Sprint(errs[1]) {
				t.Fatalf("Reader: %v\nLoad:   %v", errs[0], errs[1])
			}
			if !slices.Equal(got[0], got[1]) || !slices.Equal(gotSizes[0], gotSizes[1]) {
				t.Fatalf("Reader read %d keys, Load %d; or their sizes differ", len(got[0]), len(got[1]))
			}
			if errs[0] == nil && len(got[0]) < 5000 {
				t.Fatalf("read %d keys", len(got[0]))
			}
		})
	}
}

func TestFormatByName(t *testing.T) {
	for name, want := range map[string]Format{
		"a/oltp.arc.gz": FormatARC, "gli.lirs.gz": FormatLIRS, "multi2.trc": FormatLIRS, "x.CSV.zst": FormatCSV,
		"cluster52.oracleGeneral.sample10.zst": FormatOracle, "w01.oracleGeneral.bin.zst": FormatOracle,
		"keys.bin.xz": FormatBinary, "oltp.gz": FormatAuto, "trace": FormatAuto, "scarab.recs.trace.xz": FormatAuto,
	} {
		if got := formatByName(name); got != want {
			t.Errorf("formatByName(%q) = %q, want %q", name, got, want)
		}
	}
}
