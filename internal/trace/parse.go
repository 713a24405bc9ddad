package trace

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
)

// ParseError is a malformed line in a trace, or a failure to read it.
type ParseError struct {
	File string // the path given to [Open], or "" for [ParseARC] and [ParseLIRS]
	Line int    // 1-based
	Err  error
}

// Error returns "file:line: problem", or "line N: problem" without a file.
func (e *ParseError) Error() string {
	if e.File == "" {
		return fmt.Sprintf("trace: line %d: %v", e.Line, e.Err)
	}
	return fmt.Sprintf("trace: %s:%d: %v", e.File, e.Line, e.Err)
}

// Unwrap returns the underlying error.
func (e *ParseError) Unwrap() error { return e.Err }

// ParseARC returns a [Reader] of a trace in the format of the ARC paper's
// traces: each line is "start count ..." (more fields are ignored) and
// stands for the blocks start, start+1, ..., start+count-1. Blank lines and
// lines starting with '#' are skipped. A malformed line ends the trace with
// a [*ParseError].
func ParseARC(r io.Reader) Reader { return newLineReader(r, "", parseARCLine) }

// ParseLIRS returns a [Reader] of a trace in the format of the LIRS paper's
// traces: one block number per line. Blank lines and lines starting with
// '#' are skipped. A malformed line ends the trace with a [*ParseError].
func ParseLIRS(r io.Reader) Reader { return newLineReader(r, "", parseLIRSLine) }

// lineParser turns a trimmed, non-empty line into a run of keys.
type lineParser func(line []byte) (start, count uint64, err error)

// lineReader is the Reader of a line-based trace.
type lineReader struct {
	sc    *bufio.Scanner
	file  string
	line  int
	parse lineParser
	key   uint64 // the next key of the current run
	left  uint64 // keys left in the current run
	done  bool
	err   error
}

func newLineReader(r io.Reader, file string, parse lineParser) *lineReader {
	return &lineReader{sc: bufio.NewScanner(r), file: file, parse: parse}
}

func (r *lineReader) Next() (uint64, bool) {
	for r.left == 0 {
		if !r.fill() {
			return 0, false
		}
	}
	k := r.key
	r.key++
	r.left--
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
	if len(b) == 0 || b[0] == '#' {
		return true
	}
	start, count, err := r.parse(b)
	if err != nil {
		r.done = true
		r.err = &ParseError{File: r.file, Line: r.line, Err: err}
		return false
	}
	r.key, r.left = start, count
	return true
}

func parseARCLine(b []byte) (start, count uint64, err error) {
	f1, rest := field(b)
	f2, _ := field(rest)
	if f2 == nil {
		return 0, 0, fmt.Errorf("ARC line %q: want \"start count ...\"", b)
	}
	if start, err = parseUint(f1); err != nil {
		return 0, 0, err
	}
	if count, err = parseUint(f2); err != nil {
		return 0, 0, err
	}
	if count > 0 && start > math.MaxUint64-(count-1) {
		return 0, 0, fmt.Errorf("ARC line %q: block range overflows 64 bits", b)
	}
	return start, count, nil
}

func parseLIRSLine(b []byte) (start, count uint64, err error) {
	f, rest := field(b)
	if g, _ := field(rest); g != nil {
		return 0, 0, fmt.Errorf("LIRS line %q: want one block number", b)
	}
	start, err = parseUint(f)
	return start, 1, err
}

// field splits off b's first space-separated field; it is nil if there is
// none.
func field(b []byte) (f, rest []byte) {
	b = bytes.TrimLeft(b, " \t")
	if len(b) == 0 {
		return nil, nil
	}
	i := bytes.IndexAny(b, " \t")
	if i < 0 {
		return b, nil
	}
	return b[:i], b[i:]
}

func parseUint(f []byte) (uint64, error) {
	n, err := strconv.ParseUint(string(f), 10, 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) {
			err = ne.Err
		}
		return 0, fmt.Errorf("block number %q: %w", f, err)
	}
	return n, nil
}
