package loader

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
)

// This file holds fast paths for the JSON that crosses sql_query: the
// common shapes (a few plain strings and integers as arguments; rows of
// plain strings, numbers and nulls as a result) are handled by hand,
// because encoding/json's reflection costs tens of microseconds per call
// in WebAssembly. Anything else (an escaped string, a float argument, odd
// spacing) takes encoding/json, so results are the same either way.

// appendArgsFast appends args as a JSON array if each is nil, a bool, an
// integer, or a string or []byte of printable ASCII without '"' or '\',
// and reports whether it could.
func appendArgsFast(b []byte, args []any) ([]byte, bool) {
	b = append(b, '[')
	for i, a := range args {
		if i > 0 {
			b = append(b, ',')
		}
		switch v := a.(type) {
		case nil:
			b = append(b, "null"...)
		case string:
			if !plainASCII(v) {
				return b, false
			}
			b = append(append(append(b, '"'), v...), '"')
		case []byte:
			if !plainASCII(string(v)) {
				return b, false
			}
			b = append(append(append(b, '"'), v...), '"')
		case Blob:
			b = append(b, `{"`+blobKey+`":"`...)
			b = append(base64.StdEncoding.AppendEncode(b, v), `"}`...)
		case bool:
			b = append(b, '0')
			if v {
				b[len(b)-1] = '1'
			}
		case int:
			b = strconv.AppendInt(b, int64(v), 10)
		case int64:
			b = strconv.AppendInt(b, v, 10)
		case int32:
			b = strconv.AppendInt(b, int64(v), 10)
		case uint64:
			b = strconv.AppendUint(b, v, 10)
		case uint32:
			b = strconv.AppendUint(b, uint64(v), 10)
		default:
			return b, false
		}
	}
	return append(b, ']'), true
}

// plainASCII reports whether s needs no escaping in a JSON string and is
// valid UTF-8: printable ASCII other than '"' and '\'.
func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// decodeRowsFast decodes rows as decodeRows does, if b is compact JSON
// (as the host writes it) whose strings have no escapes; ok is false for
// anything else, including invalid JSON.
func decodeRowsFast(b []byte) (rows [][]any, ok bool) {
	if len(b) < 2 || b[0] != '[' {
		return nil, false
	}
	rows = [][]any{}
	i := 1
	if b[i] == ']' {
		return rows, i+1 == len(b)
	}
	for {
		row, j, ok := decodeRowFast(b, i)
		if !ok {
			return nil, false
		}
		rows = append(rows, row)
		if j >= len(b) {
			return nil, false
		}
		switch b[j] {
		case ',':
			i = j + 1
		case ']':
			return rows, j+1 == len(b)
		default:
			return nil, false
		}
	}
}

// decodeRowFast decodes the row at b[i:] and returns it and the offset
// after it.
func decodeRowFast(b []byte, i int) (row []any, end int, ok bool) {
	if i+1 >= len(b) || b[i] != '[' {
		return nil, 0, false
	}
	row = []any{}
	i++
	if b[i] == ']' {
		return row, i + 1, true
	}
	for {
		v, j, ok := decodeValueFast(b, i)
		if !ok || j >= len(b) {
			return nil, 0, false
		}
		row = append(row, v)
		switch b[j] {
		case ',':
			i = j + 1
		case ']':
			return row, j + 1, true
		default:
			return nil, 0, false
		}
	}
}

// blobPrefix opens a BLOB as the host writes it.
const blobPrefix = `{"` + blobKey + `":"`

// decodeValueFast decodes the value at b[i:]: a string without escapes,
// null, a number (as a json.Number), or a BLOB as the host writes it (as
// []byte).
func decodeValueFast(b []byte, i int) (v any, end int, ok bool) {
	if i >= len(b) {
		return nil, 0, false
	}
	switch c := b[i]; {
	case c == '{':
		return decodeBlobFast(b, i)
	case c == '"':
		for j := i + 1; j < len(b); j++ {
			switch c := b[j]; {
			case c == '"':
				return string(b[i+1 : j]), j + 1, true
			case c == '\\' || c < 0x20 || c >= 0x80:
				return nil, 0, false // escapes and non-ASCII: encoding/json checks them
			}
		}
		return nil, 0, false
	case c == 'n':
		if len(b)-i >= 4 && string(b[i:i+4]) == "null" {
			return nil, i + 4, true
		}
		return nil, 0, false
	case c == '-' || '0' <= c && c <= '9':
		j := i
		for j < len(b) && (b[j] == '-' || b[j] == '+' || b[j] == '.' || b[j] == 'e' || b[j] == 'E' || '0' <= b[j] && b[j] <= '9') {
			j++
		}
		n := json.Number(b[i:j])
		if !validNumber(string(n)) {
			return nil, 0, false
		}
		return n, j, true
	}
	return nil, 0, false
}

// validNumber reports whether s is a JSON number.
func validNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && '1' <= s[i] && s[i] <= '9':
		i = digits(s, i)
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		if j := digits(s, i+1); j > i+1 {
			i = j
		} else {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if j := digits(s, i); j > i {
			i = j
		} else {
			return false
		}
	}
	return i == len(s)
}

// digits returns the offset of the first non-digit of s from i.
func digits(s string, i int) int {
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	return i
}

// decodeBlobFast decodes the BLOB at b[i:], written compactly as
// {"$b64":"<standard base64>"}.
func decodeBlobFast(b []byte, i int) (v any, end int, ok bool) {
	if len(b)-i < len(blobPrefix) || string(b[i:i+len(blobPrefix)]) != blobPrefix {
		return nil, 0, false
	}
	start := i + len(blobPrefix)
	j := start
	for j < len(b) && b[j] != '"' {
		// Only the base64 alphabet: base64 would skip a raw newline that
		// JSON forbids in a string, and an escape needs the slow path.
		if c := b[j]; !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=') {
			return nil, 0, false
		}
		j++
	}
	if j+1 >= len(b) || b[j+1] != '}' {
		return nil, 0, false
	}
	out, err := base64.StdEncoding.AppendDecode([]byte{}, b[start:j])
	if err != nil {
		return nil, 0, false
	}
	return out, j + 2, true
}
