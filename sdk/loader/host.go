package loader

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// ErrNoHost is returned by [Query] and [HTTPGet] outside WebAssembly,
// where there is no distcache node to ask.
var ErrNoHost = errors.New("loader: only available inside a distcache node")

// encodeArgs encodes query arguments as the JSON array sql_query takes:
// strings ([]byte as a string), numbers, and nil as null. A bool becomes
// 1 or 0, as SQLite stores it. Other types are an error.
func encodeArgs(args []any) ([]byte, error) {
	if len(args) == 0 {
		return nil, nil
	}
	if b, ok := appendArgsFast(nil, args); ok {
		return b, nil
	}
	vals := make([]any, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case nil, string, json.Number,
			int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64:
			vals[i] = v
		case []byte:
			vals[i] = string(v)
		case bool:
			vals[i] = 0
			if v {
				vals[i] = 1
			}
		default:
			return nil, fmt.Errorf("loader: query argument %d: %T is not a string, number, bool or nil", i, a)
		}
	}
	return json.Marshal(vals)
}

// decodeRows decodes sql_query's result: a JSON array of rows, each an
// array of values. Numbers decode as json.Number, so that INTEGER values
// beyond 2^53 keep every digit; TEXT and BLOB as string; NULL as nil.
func decodeRows(b []byte) ([][]any, error) {
	if rows, ok := decodeRowsFast(b); ok {
		return rows, nil
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var rows [][]any
	if err := d.Decode(&rows); err != nil {
		return nil, fmt.Errorf("loader: query result: %w", err)
	}
	return rows, nil
}
