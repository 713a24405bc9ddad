package loader

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
)

// ErrNoHost is returned by [Query] and [HTTPGet] outside WebAssembly,
// where there is no distcache node to ask.
var ErrNoHost = errors.New("loader: only available inside a distcache node")

// The dialects [SQLDialect] returns: the SQL a loader writes differs in
// its placeholders ($1, $2 on PostgreSQL; ? on SQLite and MySQL) and its
// identifier quotes ("name"; `name` on MySQL).
const (
	DialectSQLite   = "sqlite"
	DialectPostgres = "postgres"
	DialectMySQL    = "mysql"
)

// dialectOf names sql_dialect's code: 1 sqlite, 2 postgres, 3 mysql, and
// "" for 0 (no database) or a code this SDK does not know.
func dialectOf(code int32) string {
	switch code {
	case 1:
		return DialectSQLite
	case 2:
		return DialectPostgres
	case 3:
		return DialectMySQL
	}
	return ""
}

// Blob is a query argument bound as a BLOB, byte for byte. A plain []byte
// argument is bound as TEXT, as a string would be.
type Blob []byte

// blobKey is the one key of the JSON object that carries a BLOB across
// sql_query, in arguments and results: {"$b64": "<standard base64>"}.
const blobKey = "$b64"

// encodeArgs encodes query arguments as the JSON array sql_query takes:
// strings ([]byte as a string), numbers, nil as null, and a [Blob] as
// {"$b64": "<standard base64>"}. A bool becomes 1 or 0, as SQLite stores
// it. Other types are an error.
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
		case Blob:
			vals[i] = map[string]string{blobKey: base64.StdEncoding.EncodeToString(v)}
		case bool:
			vals[i] = 0
			if v {
				vals[i] = 1
			}
		default:
			return nil, fmt.Errorf("loader: query argument %d: %T is not a string, []byte, Blob, number, bool or nil", i, a)
		}
	}
	return json.Marshal(vals)
}

// decodeRows decodes sql_query's result: a JSON array of rows, each an
// array of values. Numbers decode as json.Number, so that INTEGER values
// beyond 2^53 keep every digit; TEXT as string; BLOB ({"$b64": "..."}) as
// []byte, byte for byte; NULL as nil.
func decodeRows(b []byte) ([][]any, error) {
	if rows, ok := decodeRowsFast(b); ok {
		return rows, nil
	}
	return decodeRowsSlow(b)
}

// decodeRowsSlow is decodeRows through encoding/json.
func decodeRowsSlow(b []byte) ([][]any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var rows [][]any
	if err := d.Decode(&rows); err != nil {
		return nil, fmt.Errorf("loader: query result: %w", err)
	}
	for i, row := range rows {
		for j, v := range row {
			m, ok := v.(map[string]any)
			if !ok {
				continue
			}
			blob, err := decodeBlob(m)
			if err != nil {
				return nil, fmt.Errorf("loader: query result: row %d column %d: %w", i, j, err)
			}
			row[j] = blob
		}
	}
	return rows, nil
}

// decodeBlob decodes a {"$b64": "..."} object.
func decodeBlob(m map[string]any) ([]byte, error) {
	s, ok := m[blobKey].(string)
	if !ok || len(m) != 1 {
		return nil, fmt.Errorf("an object other than {%q: base64}", blobKey)
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", blobKey, err)
	}
	return b, nil
}
