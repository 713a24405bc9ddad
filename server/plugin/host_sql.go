package plugin

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/tetratelabs/wazero/api"
)

// maxSQLRows bounds the rows one sql_query returns. A query with more
// fails, so a loader never acts on a silently cut result.
const maxSQLRows = 10_000

// blobKey is the one key of the JSON object that carries a BLOB, in
// sql_query results and arguments: {"$b64": "<standard base64>"}.
const blobKey = "$b64"

func (r *Runtime) hostSQLQuery(ctx context.Context, m api.Module, qp, qn, ap, an uint32) int32 {
	s := stateOf(ctx)
	query := string(read(m, qp, qn))
	var args []any
	if an > 0 {
		var err error
		if args, err = decodeArgs(read(m, ap, an)); err != nil {
			return s.setPending(nil, fmt.Errorf("sql_query args: %w", err))
		}
	}
	if r.cfg.DB == nil {
		return s.setPending(nil, errors.New("sql_query: this node has no database for loaders"))
	}
	return s.setPending(queryJSON(ctx, r.cfg.DB, query, args, sqlLimits{rows: maxSQLRows, bytes: r.sqlMaxBytes()}))
}

// sqlMaxBytes is the largest sql_query result: a quarter of the plugin
// memory cap, so the guest can hold the JSON and the rows it decodes.
func (r *Runtime) sqlMaxBytes() int { return r.cfg.MemoryLimitMiB << 20 / 4 }

// decodeArgs decodes sql_query's arguments: a JSON array of strings,
// numbers (integers bind as INTEGER, others as REAL), nulls and
// {"$b64": "..."} BLOBs.
func decodeArgs(b []byte) ([]any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var raw []any
	if err := d.Decode(&raw); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, errors.New("trailing data after the array")
	}
	for i, v := range raw {
		switch v := v.(type) {
		case json.Number:
			if n, err := strconv.ParseInt(string(v), 10, 64); err == nil {
				raw[i] = n
			} else if f, err := v.Float64(); err == nil {
				raw[i] = f
			} else {
				return nil, fmt.Errorf("argument %d: %v", i, err)
			}
		case map[string]any:
			blob, err := decodeBlob(v)
			if err != nil {
				return nil, fmt.Errorf("argument %d: %w", i, err)
			}
			raw[i] = blob
		case nil, string, bool:
		default:
			return nil, fmt.Errorf("argument %d is a %T; want a string, number, null or {%q: base64}", i, v, blobKey)
		}
	}
	return raw, nil
}

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

// sqlLimits bounds one sql_query result.
type sqlLimits struct {
	rows  int // most rows
	bytes int // most bytes of JSON
}

// queryJSON runs a read-only query and encodes its rows as JSON arrays:
// TEXT as strings, INTEGER and REAL as numbers, NULL as null and BLOB as
// {"$b64": "<standard base64>"}. It fails, naming the limit, as soon as the
// result passes lim.
func queryJSON(ctx context.Context, db *sql.DB, query string, args []any, lim sqlLimits) ([]byte, error) {
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	vals, ptrs := make([]any, len(cols)), make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	out := []byte{'['}
	for n := 0; rows.Next(); n++ {
		if n == lim.rows {
			return nil, fmt.Errorf("sql_query: more than %d rows, the cap; add a LIMIT or narrow the WHERE", lim.rows)
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		if n > 0 {
			out = append(out, ',')
		}
		if out, err = appendRow(out, vals); err != nil {
			return nil, err
		}
		if len(out) > lim.bytes {
			return nil, fmt.Errorf("sql_query: the result is over the %d-byte cap (a quarter of the plugin memory); select fewer rows or smaller values", lim.bytes)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return append(out, ']'), nil
}

// appendRow appends one row as a JSON array.
func appendRow(b []byte, vals []any) ([]byte, error) {
	b = append(b, '[')
	for i, v := range vals {
		if i > 0 {
			b = append(b, ',')
		}
		switch v := v.(type) {
		case nil:
			b = append(b, "null"...)
		case int64:
			b = strconv.AppendInt(b, v, 10)
		case []byte:
			b = append(b, `{"`+blobKey+`":"`...)
			b = base64.StdEncoding.AppendEncode(b, v)
			b = append(b, `"}`...)
		default: // string, float64, and whatever else a driver returns
			js, err := json.Marshal(v)
			if err != nil {
				return nil, fmt.Errorf("sql_query: column %d: %w", i, err)
			}
			b = append(b, js...)
		}
	}
	return append(b, ']'), nil
}
