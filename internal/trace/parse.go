package trace

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"
	"strconv"
)

// MaxLine is the longest line, newline excluded, a text trace may have:
// bufio.Scanner's limit, less one.
const MaxLine = bufio.MaxScanTokenSize - 1

// MaxRun is the most blocks one ARC line may stand for (16,777,216, 64 GiB
// of 4 KiB blocks): more is a garbled line, not a request.
const MaxRun = 1 << 24

// ParseError is a malformed line or record in a trace, or a failure to
// read it.
type ParseError struct {
	File string // the path given to [Open], or "" for the Parse functions
	// Line is the 1-based line of a text trace, 0 for a binary one.
	Line int
	// Offset is the byte offset, in the decompressed trace, of the binary
	// record at fault, and Record its 0-based index; both are 0 for text.
	Offset, Record int64
	Err            error
}

// Error returns "file:line: problem" for text, "file: record R at byte
// offset O: problem" for binary, without the file when there is none.
func (e *ParseError) Error() string {
	where := fmt.Sprintf("line %d", e.Line)
	if e.Line == 0 {
		where = fmt.Sprintf("record %d at byte offset %d", e.Record, e.Offset)
	}
	switch {
	case e.File == "":
		return fmt.Sprintf("trace: %s: %v", where, e.Err)
	case e.Line == 0:
		return fmt.Sprintf("trace: %s: %s: %v", e.File, where, e.Err)
	}
	return fmt.Sprintf("trace: %s:%d: %v", e.File, e.Line, e.Err)
}

// Unwrap returns the underlying error.
func (e *ParseError) Unwrap() error { return e.Err }

// ParseARC returns a [Reader] of a trace in the format of the ARC paper's
// traces: each line is "start count ..." (more fields are ignored) and
// stands for the blocks start, start+1, ..., start+count-1, count at most
// [MaxRun]. Blank lines and lines starting with '#' are skipped. A
// malformed line ends the trace with a [*ParseError].
func ParseARC(r io.Reader) Reader { return newLineReader(r, "", 0, parseARCLine) }

// ParseLIRS returns a [Reader] of a trace in the format of the LIRS paper's
// traces: one block number per line. Blank lines, lines starting with '#'
// and lines of just "*" (as some of the paper's .trc files have) are
// skipped. A malformed line ends the trace with a [*ParseError].
func ParseLIRS(r io.Reader) Reader { return newLineReader(r, "", 0, parseLIRSLine) }

// record is what one line of a text trace stands for: count keys from key
// on (key, key+1, ...), each of size bytes (0 when the format has none).
type record struct {
	key, count uint64
	size       int64
}

// lineFunc parses a trimmed line that is neither blank nor a comment.
type lineFunc func(line []byte) (record, error)

// skipLine reports whether a trimmed line is blank or a comment.
func skipLine(b []byte) bool { return len(b) == 0 || b[0] == '#' }

// lineReader is the Reader of a line-based trace.
type lineReader struct {
	sc    *bufio.Scanner
	file  string
	line  int
	parse lineFunc
	rec   record // the current run: rec.key is its next key
	size  int64  // the size of the key Next returned last
	done  bool
	err   error
}

// newLineReader reads r, whose first line is line after+1 of the file.
func newLineReader(r io.Reader, file string, after int, parse lineFunc) *lineReader {
	return &lineReader{sc: bufio.NewScanner(r), file: file, line: after, parse: parse}
}

func (r *lineReader) Next() (uint64, bool) {
	for r.rec.count == 0 {
		if !r.fill() {
			return 0, false
		}
	}
	k := r.rec.key
	r.size = r.rec.size
	r.rec.key++
	r.rec.count--
	return k, true
}

func (r *lineReader) Err() error { return r.err }

// fill reads one line; it returns false at the end or on an error.
func (r *lineReader) fill() bool {
	if r.done {
		return false
	}
	// After a read error, Scanner still returns what it had as a last line:
	// a line cut short, which must not be read as keys.
	if !r.sc.Scan() || r.sc.Err() != nil {
		r.done = true
		if err := r.sc.Err(); err != nil {
			r.err = &ParseError{File: r.file, Line: r.line + 1, Err: err}
		}
		return false
	}
	r.line++
	b := bytes.TrimSpace(r.sc.Bytes())
	if skipLine(b) {
		return true
	}
	rec, err := r.parse(b)
	if err != nil {
		r.done = true
		r.err = &ParseError{File: r.file, Line: r.line, Err: err}
		return false
	}
	r.rec = rec
	return true
}

// sizedLineReader is a lineReader of a format that carries sizes.
type sizedLineReader struct{ *lineReader }

func (r sizedLineReader) Size() int64 { return r.size }

func parseARCLine(b []byte) (record, error) {
	f1, rest := field(b)
	f2, _ := field(rest)
	if f2 == nil {
		return record{}, fmt.Errorf("ARC line %q: want \"start count ...\"", b)
	}
	start, err := parseUint(f1)
	if err != nil {
		return record{}, err
	}
	count, err := parseUint(f2)
	if err != nil {
		return record{}, err
	}
	if count > MaxRun {
		return record{}, fmt.Errorf("ARC line %q: a run of more than %d blocks", b, MaxRun)
	}
	if count > 0 && start > math.MaxUint64-(count-1) {
		return record{}, fmt.Errorf("ARC line %q: block range overflows 64 bits", b)
	}
	return record{key: start, count: count}, nil
}

func parseLIRSLine(b []byte) (record, error) {
	f, rest := field(b)
	if g, _ := field(rest); g != nil {
		return record{}, fmt.Errorf("LIRS line %q: want one block number", b)
	}
	if len(f) == 1 && f[0] == '*' {
		return record{}, nil
	}
	k, err := parseUint(f)
	return record{key: k, count: 1}, err
}

// field splits off b's first space-separated field; it is nil if there is
// none.
func field(b []byte) (f, rest []byte) {
	i := 0
	for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
		i++
	}
	if i == len(b) {
		return nil, nil
	}
	b = b[i:]
	for i = 0; i < len(b); i++ {
		if b[i] == ' ' || b[i] == '\t' {
			return b[:i], b[i:]
		}
	}
	return b, nil
}

// parseUint parses a decimal block number as strconv.ParseUint does, but
// without allocating.
func parseUint(f []byte) (uint64, error) {
	if n, ok := atou(f); ok {
		return n, nil
	}
	err := strconv.ErrSyntax
	if len(f) > 0 && allDigits(f) {
		err = strconv.ErrRange
	}
	return 0, fmt.Errorf("block number %q: %w", f, err)
}

// atou parses a non-empty string of decimal digits that fits 64 bits.
func atou(f []byte) (uint64, bool) {
	if len(f) == 0 {
		return 0, false
	}
	var n uint64
	for _, c := range f {
		d := uint64(c - '0')
		if d > 9 || n > (math.MaxUint64-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

func allDigits(f []byte) bool {
	for _, c := range f {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
