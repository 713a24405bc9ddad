package trace

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
)

// Column names a CSV header may give its key and size columns, in the
// order they are preferred (case is ignored).
var (
	csvKeyNames  = []string{"key", "obj_id", "object_id", "objid", "id"}
	csvSizeNames = []string{"size", "obj_size", "object_size", "bytes"}
)

// ParseCSV returns a [Sized] reader of a CSV trace: one request per line,
// comma-separated fields, each optionally in double quotes ("" inside
// quotes is a quote; a quoted field may not span lines), with spaces and
// tabs around fields ignored. Blank lines and lines starting with '#' are
// skipped.
//
// The first line is a header if one of its fields is a column name: key,
// obj_id, object_id, objid or id for the key (the first of these names
// present wins) and size, obj_size, object_size or bytes for the size;
// other columns are ignored. Without a header the key is the first column
// and the size the second, if the first line has two fields or more.
//
// A key of decimal digits that fits 64 bits is that number; any other key
// is a string, hashed to 64 bits with FNV-1a (hash/fnv's New64a) of its
// bytes as written, quotes removed. A size is a whole number of bytes, at
// most 4294967295 (as oracleGeneral's uint32). Without a size column Size
// returns 0. A malformed line ends the trace with a [*ParseError].
func ParseCSV(r io.Reader) Sized {
	var layout *csvLayout
	parse := func(line []byte) (record, error) {
		if layout == nil {
			l, header, err := csvDetect(line)
			if err != nil {
				return record{}, err
			}
			layout = &l
			if header {
				return record{}, nil
			}
		}
		return layout.parse(line)
	}
	return sizedLineReader{newLineReader(r, "", 0, parse)}
}

// csvLayout says which columns of a CSV trace hold the key and the size.
type csvLayout struct {
	key  int
	size int // -1 without a size column
}

// csvDetect reads a CSV trace's first line: a header, or the first
// request, which then says whether there is a size column.
func csvDetect(line []byte) (l csvLayout, header bool, err error) {
	var names []string
	rest := line
	for rest != nil {
		var f []byte
		if f, rest, err = csvField(rest); err != nil {
			return l, false, fmt.Errorf("CSV line %q: %w", line, err)
		}
		names = append(names, strings.ToLower(string(csvUnquote(f))))
	}
	l = csvLayout{key: -1, size: -1}
	for _, want := range csvKeyNames {
		if l.key < 0 {
			l.key = index(names, want)
		}
	}
	for _, want := range csvSizeNames {
		if l.size < 0 {
			l.size = index(names, want)
		}
	}
	switch {
	case l.key >= 0:
		return l, true, nil
	case l.size >= 0:
		return l, false, fmt.Errorf("CSV header %q names no key column (want one of %s)",
			line, strings.Join(csvKeyNames, ", "))
	case len(names) >= 2:
		return csvLayout{key: 0, size: 1}, false, nil
	}
	return csvLayout{key: 0, size: -1}, false, nil
}

func index(names []string, want string) int {
	for i, n := range names {
		if n == want {
			return i
		}
	}
	return -1
}

// parse reads one request.
func (l csvLayout) parse(line []byte) (record, error) {
	var key, size []byte
	rest := line
	for i := 0; rest != nil && (i <= l.key || i <= l.size); i++ {
		f, r, err := csvField(rest)
		if err != nil {
			return record{}, fmt.Errorf("CSV line %q: %w", line, err)
		}
		switch i {
		case l.key:
			key = f
		case l.size:
			size = f
		}
		rest = r
	}
	if key == nil || l.size >= 0 && size == nil {
		return record{}, fmt.Errorf("CSV line %q: want %d fields or more", line, max(l.key, l.size)+1)
	}
	rec := record{count: 1}
	var err error
	if rec.key, err = csvKey(key); err != nil {
		return record{}, err
	}
	if size != nil {
		s := csvUnquote(size)
		n, ok := atou(s)
		if !ok || n > math.MaxUint32 {
			return record{}, fmt.Errorf("size %q: want a whole number of bytes up to %d", s, uint32(math.MaxUint32))
		}
		rec.size = int64(n)
	}
	return rec, nil
}

// csvKey returns the key a field names: its number, or the FNV-1a hash of
// its text.
func csvKey(f []byte) (uint64, error) {
	if len(f) == 0 || len(f) == 2 && f[0] == '"' {
		return 0, errors.New("empty key")
	}
	if n, ok := atou(csvUnquote(f)); ok {
		return n, nil
	}
	const offset64, prime64 = 14695981039346656037, 1099511628211
	h := uint64(offset64)
	s := f
	if f[0] == '"' {
		s = f[1 : len(f)-1]
	}
	for i := 0; i < len(s); i++ {
		if f[0] == '"' && s[i] == '"' {
			i++ // the first of a doubled quote
		}
		h ^= uint64(s[i])
		h *= prime64
	}
	return h, nil
}

// csvUnquote returns f without its quotes; a doubled quote inside stays
// doubled (csvKey hashes it as one).
func csvUnquote(f []byte) []byte {
	if len(f) >= 2 && f[0] == '"' {
		return f[1 : len(f)-1]
	}
	return f
}

// csvField splits off line's first field, trimmed of spaces and tabs,
// quotes kept; rest is nil after the last field.
func csvField(line []byte) (f, rest []byte, err error) {
	line = bytes.TrimLeft(line, " \t")
	if len(line) == 0 || line[0] != '"' {
		i := bytes.IndexByte(line, ',')
		if i < 0 {
			return bytes.TrimRight(line, " \t"), nil, nil
		}
		return bytes.TrimRight(line[:i], " \t"), line[i+1:], nil
	}
	for i := 1; i < len(line); i++ {
		if line[i] != '"' {
			continue
		}
		if i+1 < len(line) && line[i+1] == '"' {
			i++
			continue
		}
		f, after := line[:i+1], bytes.TrimLeft(line[i+1:], " \t")
		switch {
		case len(after) == 0:
			return f, nil, nil
		case after[0] == ',':
			return f, after[1:], nil
		}
		return nil, nil, errors.New("text after a closing quote")
	}
	return nil, nil, errors.New("unterminated quoted field (a quoted field may not span lines)")
}
