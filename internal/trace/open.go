package trace

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// peekSize is how much of a trace [Open] reads ahead to detect its format.
const peekSize = 64 << 10

// The compressions [Open] undoes, as File.Codec names them.
const (
	CodecGzip = "gzip"
	CodecXZ   = "xz"
	CodecZstd = "zstd"
)

// File is an open trace file. Read it once, with [File.Reader] or
// [File.Load], then Close it.
type File struct {
	// Path is the path given to [Open]; errors name it.
	Path string
	// Format is the format read: the one given to Open, or the one it
	// detected.
	Format Format
	// Codec is the compression undone ([CodecGzip], [CodecXZ],
	// [CodecZstd]), or "" for none.
	Codec string

	size    int64         // of the file on disk
	read    *countReader  // counts the file's bytes read
	parsed  atomic.Int64  // requests parsed by Load
	src     *bufio.Reader // the decompressed trace
	after   int           // lines before src's first: a CSV header
	csv     csvLayout
	closers []func() error
}

// Open opens the trace file at path in format, or detects its format
// with [FormatAuto].
//
// A file that starts with the magic bytes of gzip, xz or zstd is
// decompressed (bzip2, lz4 and zip are refused with an error that says
// so). Detection goes by the file name first: .arc, .lirs or .trc, .csv, a
// ".oracleGeneral" part, .bin or .keys (8-byte big-endian keys), after a
// compression suffix (.gz, .xz, .zst). Otherwise it reads the content:
// text whose first line that is not blank, a comment or "*" has a comma is
// CSV, one number LIRS, two numbers or more ARC (an empty trace is LIRS);
// binary data is oracleGeneral if its records' next-access fields make
// sense. Anything else is an error that names the file and suggests a
// format: a stream of 8-byte keys, where any bytes are valid, is never
// guessed. So is binary data given a text format, or text given a binary
// one.
//
// Errors, from Open and from reading, name path; reading errors name the
// line, or the record and its byte offset.
func Open(path string, format Format) (*File, error) {
	format, err := ParseFormat(string(format))
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("trace: %w", err)
	}
	var size int64
	if st, err := f.Stat(); err == nil {
		size = st.Size()
	}
	return newFile(path, f, size, format, f.Close)
}

// newFile is [Open] of r, named path, of size bytes; closer closes r.
func newFile(path string, r io.Reader, size int64, format Format, closer func() error) (*File, error) {
	tf := &File{Path: path, Format: format, size: size, read: &countReader{r: r}, closers: []func() error{closer}}
	if err := tf.open(); err != nil {
		tf.Close()
		if pe := (*ParseError)(nil); errors.As(err, &pe) {
			return nil, err
		}
		return nil, fmt.Errorf("trace: %s: %w", path, err)
	}
	return tf, nil
}

func (f *File) open() error {
	src := bufio.NewReaderSize(f.read, peekSize)
	magic, err := src.Peek(10)
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	var dec io.Reader
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(src)
		if err != nil {
			return fmt.Errorf("gzip: %w", err)
		}
		f.Codec, dec = CodecGzip, zr
		f.closers = append(f.closers, zr.Close)
	case bytes.HasPrefix(magic, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		xr, err := xz.NewReader(src)
		if err != nil {
			return fmt.Errorf("xz: %w", err)
		}
		f.Codec, dec = CodecXZ, xr
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(src)
		if err != nil {
			return fmt.Errorf("zstd: %w", err)
		}
		f.Codec, dec = CodecZstd, zr
		f.closers = append(f.closers, func() error { zr.Close(); return nil })
	default:
		if c := unsupportedCodec(magic); c != "" {
			return fmt.Errorf("compressed with %s, which is not read here: decompress it, or recompress it with gzip, xz or zstd", c)
		}
	}
	if dec != nil {
		src = bufio.NewReaderSize(dec, peekSize)
	}
	f.src = src
	head, err := src.Peek(peekSize)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return err
	}
	whole := len(head) < peekSize
	text := looksText(head)
	how := "given"
	if f.Format == FormatAuto {
		f.Format, how = formatByName(f.Path), "told by the file name"
	}
	if f.Format == FormatAuto {
		if f.Format, err = sniff(head, whole, text); err != nil {
			return err
		}
	}
	switch {
	case f.Format.recordSize() > 0 && text && len(head) > 0:
		return fmt.Errorf("format %s (%s) is binary records, but this is text; give -format (auto detects text formats)", f.Format, how)
	case f.Format.recordSize() == 0 && !text:
		return fmt.Errorf("format %s (%s) is text, but this is binary data; give -format (binary, binary-le or oracle)", f.Format, how)
	case f.Format == FormatCSV:
		return f.openCSV(head)
	}
	return nil
}

// openCSV reads the CSV layout from the first data line and, if it is a
// header, consumes it.
func (f *File) openCSV(head []byte) error {
	f.csv = csvLayout{key: 0, size: -1}
	n, line := firstDataLine(head, false)
	if line == nil {
		if len(head) == peekSize {
			return fmt.Errorf("no CSV line in the first %d KiB, so no header or layout", peekSize>>10)
		}
		return nil
	}
	l, header, err := csvDetect(line)
	if err != nil {
		return &ParseError{File: f.Path, Line: n, Err: err}
	}
	f.csv = l
	if header {
		for i := range n {
			if _, err := f.src.ReadSlice('\n'); errors.Is(err, bufio.ErrBufferFull) {
				return &ParseError{File: f.Path, Line: i + 1, Err: bufio.ErrTooLong}
			} else if err != nil && !errors.Is(err, io.EOF) {
				return err
			}
		}
		f.after = n
	}
	return nil
}

// Sized reports whether the trace carries object sizes: oracleGeneral
// does, CSV does when it has a size column.
func (f *File) Sized() bool {
	return f.Format == FormatOracle || f.Format == FormatCSV && f.csv.size >= 0
}

// Reader returns a Reader of the trace's requests, a [Sized] one when
// [File.Sized].
func (f *File) Reader() Reader {
	if n := f.Format.recordSize(); n > 0 {
		r := newBinaryReader(f.src, f.Path, n, decoderOf(f.Format))
		if f.Sized() {
			return sizedBinaryReader{r}
		}
		return r
	}
	r := newLineReader(f.src, f.Path, f.after, f.lineFunc())
	if f.Sized() {
		return sizedLineReader{r}
	}
	return r
}

// lineFunc returns the parser of one line of the text format.
func (f *File) lineFunc() lineFunc {
	switch f.Format {
	case FormatARC:
		return parseARCLine
	case FormatCSV:
		return f.csv.parse
	}
	return parseLIRSLine
}

// Progress returns how many bytes of the file (compressed, as on disk)
// have been read, the file's size, and how many requests [File.Load] has
// parsed (0 with [File.Reader]). It is safe to call while another goroutine
// reads.
func (f *File) Progress() (read, size, requests int64) {
	return f.read.n.Load(), f.size, f.parsed.Load()
}

// Close closes the decompressor and the file.
func (f *File) Close() error {
	var errs []error
	for i := len(f.closers) - 1; i >= 0; i-- {
		errs = append(errs, f.closers[i]())
	}
	f.closers = nil
	return errors.Join(errs...)
}

// sniff detects the format from the content.
func sniff(head []byte, whole, text bool) (Format, error) {
	if !text {
		if looksOracle(head, whole) {
			return FormatOracle, nil
		}
		return "", errors.New("cannot tell the format: binary data that is not libCacheSim oracleGeneral records; " +
			"for a stream of 8-byte keys (corda, scarab) give -format binary (big-endian) or binary-le, for oracleGeneral -format oracle")
	}
	n, line := firstDataLine(head, true)
	switch {
	case line == nil:
		return FormatLIRS, nil // empty, or only comments within the window
	case bytes.IndexByte(line, ',') >= 0:
		return FormatCSV, nil
	}
	if _, rest := field(line); rest != nil {
		if g, _ := field(rest); g != nil {
			if _, err := parseARCLine(line); err == nil {
				return FormatARC, nil
			}
		}
	}
	if _, err := parseLIRSLine(line); err == nil {
		return FormatLIRS, nil
	}
	return "", fmt.Errorf("cannot tell the format: line %d %q is not ARC (\"start count ...\"), "+
		"LIRS (one block number) or CSV (comma-separated key and size); give -format", n, trimQuote(line))
}

func trimQuote(b []byte) []byte {
	if len(b) > 80 {
		return append(b[:77:77], "..."...)
	}
	return b
}

// firstDataLine returns the first line of head that is not blank, a
// comment or (with skipStar) "*", trimmed, and its 1-based number; the
// line may be cut short by the end of head. line is nil if there is none.
func firstDataLine(head []byte, skipStar bool) (n int, line []byte) {
	for len(head) > 0 {
		n++
		line = head
		if i := bytes.IndexByte(head, '\n'); i >= 0 {
			line, head = head[:i], head[i+1:]
		} else {
			head = nil
		}
		line = bytes.TrimSpace(line)
		if !skipLine(line) && !(skipStar && len(line) == 1 && line[0] == '*') {
			return n, line
		}
	}
	return 0, nil
}

// looksText reports whether b has no control characters but tab, newline,
// vertical tab, form feed and carriage return.
func looksText(b []byte) bool {
	for _, c := range b {
		if c < 0x20 && (c < '\t' || c > '\r') || c == 0x7f {
			return false
		}
	}
	return true
}

// unsupportedCodec names a compression [Open] recognizes but does not
// undo.
func unsupportedCodec(magic []byte) string {
	switch {
	case len(magic) >= 10 && bytes.HasPrefix(magic, []byte("BZh")) && magic[3] >= '1' && magic[3] <= '9' &&
		bytes.Equal(magic[4:10], []byte{0x31, 0x41, 0x59, 0x26, 0x53, 0x59}):
		return "bzip2"
	case bytes.HasPrefix(magic, []byte{0x04, 0x22, 0x4d, 0x18}):
		return "lz4"
	case bytes.HasPrefix(magic, []byte("PK\x03\x04")):
		return "zip (an archive)"
	}
	return ""
}

// countReader counts the bytes read through it, for progress.
type countReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}
