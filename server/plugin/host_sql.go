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
	"strings"
	"unicode/utf8"

	"github.com/tetratelabs/wazero/api"
)

// maxSQLRows bounds the rows one sql_query returns. A query with more
// fails, so a loader never acts on a silently cut result.
const maxSQLRows = 10_000

// blobKey is the one key of the JSON object that carries a BLOB, in
// sql_query results and arguments: {"$b64": "<standard base64>"}.
const blobKey = "$b64"

// Dialect names the kind of database sql_query reads, which decides the
// SQL a plugin writes: placeholders ($1 on PostgreSQL, ? elsewhere) and
// identifier quotes (backticks on MySQL).
type Dialect string

// The dialects, and the codes sql_dialect returns for them.
const (
	DialectSQLite   Dialect = "sqlite"   // sql_dialect returns 1
	DialectPostgres Dialect = "postgres" // sql_dialect returns 2
	DialectMySQL    Dialect = "mysql"    // sql_dialect returns 3
)

// code is d's sql_dialect code; 0 for no database.
func (d Dialect) code() int32 {
	switch d {
	case DialectSQLite:
		return 1
	case DialectPostgres:
		return 2
	case DialectMySQL:
		return 3
	}
	return 0
}

// source returns the database a call's sql_query reads: the group's, or
// the runtime's SQLite handle; nil if there is none.
func (r *Runtime) source(s *callState) *SQLSource {
	if s.sql != nil {
		return s.sql
	}
	if r.cfg.DB != nil {
		return &SQLSource{DB: r.cfg.DB, Dialect: DialectSQLite}
	}
	return nil
}

// hostSQLDialect is sql_dialect: which database this call's sql_query
// reads, as a code (0 none, 1 sqlite, 2 postgres, 3 mysql).
func (r *Runtime) hostSQLDialect(ctx context.Context) int32 {
	if src := r.source(stateOf(ctx)); src != nil {
		return src.Dialect.code()
	}
	return 0
}

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
	src := r.source(s)
	if src == nil {
		return s.setPending(nil, errors.New("sql_query: this node has no database for loaders"))
	}
	if src.Dialect != DialectSQLite {
		if err := checkReading(query); err != nil {
			return s.setPending(nil, err)
		}
	}
	lim := sqlLimits{rows: maxSQLRows, bytes: r.sqlMaxBytes(), textAsBytes: src.Dialect != DialectSQLite}
	return s.setPending(queryJSON(ctx, src.DB, query, args, lim))
}

// readingVerbs are the words a query to a shared database may begin with:
// statements that read. PostgreSQL refuses every other statement in a
// read-only transaction; MySQL does not refuse DDL, which commits the
// transaction and runs outside it, so the host refuses it first. The
// connection runs one statement per query (the node opens it so), so
// nothing can follow the verb's statement.
var readingVerbs = []string{"SELECT", "WITH", "VALUES", "TABLE", "SHOW", "EXPLAIN", "DESCRIBE", "DESC"}

// checkReading reports an error unless query begins, after white space,
// with one of readingVerbs or a parenthesis.
func checkReading(query string) error {
	q := strings.TrimLeft(query, " \t\r\n")
	if strings.HasPrefix(q, "(") {
		return nil
	}
	end := strings.IndexFunc(q, func(r rune) bool {
		return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '_')
	})
	if end < 0 {
		end = len(q)
	}
	for _, v := range readingVerbs {
		if strings.EqualFold(q[:end], v) {
			return nil
		}
	}
	word := q[:min(len(q), 20)]
	return fmt.Errorf("sql_query: a query to a shared database must begin with %s or a parenthesis, not %q", strings.Join(readingVerbs, ", "), word)
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
	// textAsBytes says the driver hands over text columns as []byte
	// (go-sql-driver/mysql, and pgx for types it has no Go type for):
	// a []byte of a column not of a binary type is text.
	textAsBytes bool
}

// binaryTypes are the column types whose []byte values are BLOBs, by
// their drivers' DatabaseTypeName, on PostgreSQL and MySQL.
var binaryTypes = map[string]bool{
	"BYTEA": true, "BLOB": true, "TINYBLOB": true, "MEDIUMBLOB": true, "LONGBLOB": true,
	"BINARY": true, "VARBINARY": true, "BIT": true, "GEOMETRY": true,
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
	cols, err := rows.ColumnTypes()
	if err != nil {
		return nil, err
	}
	// text[i]: column i's []byte values are text, not BLOBs.
	text := make([]bool, len(cols))
	for i, c := range cols {
		text[i] = lim.textAsBytes && !binaryTypes[c.DatabaseTypeName()]
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
		for i, v := range vals {
			if b, ok := v.([]byte); ok && text[i] && utf8.Valid(b) {
				vals[i] = string(b)
			}
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
