package source

import (
	"context"
	"fmt"
	"strings"
)

// The catalog queries of the shared databases. Both look in the
// connection's current schema (PostgreSQL's search_path head, MySQL's
// database) and match names case-insensitively, as [TableConfig] says.
const (
	pgColumns = `SELECT table_name, column_name FROM information_schema.columns
WHERE table_schema = current_schema() AND lower(table_name) = lower($1)`
	mysqlColumns = `SELECT table_name, column_name FROM information_schema.columns
WHERE table_schema = DATABASE() AND lower(table_name) = lower(?)`

	// Complete, single-column unique indexes (the primary key's among
	// them) on the column, as an upsert's conflict target needs.
	pgUnique = `SELECT count(*) FROM pg_index i
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indnkeyatts = 1
  AND i.indpred IS NULL AND a.attname = $2`
	mysqlUnique = `SELECT count(*) FROM (SELECT index_name FROM information_schema.statistics
WHERE table_schema = DATABASE() AND table_name = ? AND non_unique = 0
GROUP BY index_name HAVING count(*) = 1 AND max(column_name) = ? AND max(sub_part) IS NULL) u`
)

// resolveShared is resolve on a shared database: it finds the table and
// columns in the catalog, and for a writable table checks the key's
// unique index and makes [ExpiryTable] if it is missing.
func (db *DB) resolveShared(ctx context.Context, cfg TableConfig, writable bool) (TableConfig, error) {
	table, cols, err := db.catalogColumns(ctx, cfg.Table)
	if err != nil {
		return cfg, err
	}
	if table == "" {
		return cfg, fmt.Errorf("table %q does not exist in %s", cfg.Table, db.describe())
	}
	out := TableConfig{Table: table}
	for _, c := range []struct {
		want string
		dst  *string
	}{{cfg.KeyColumn, &out.KeyColumn}, {cfg.ValueColumn, &out.ValueColumn}} {
		if *c.dst = pick(cols, c.want); *c.dst == "" {
			return cfg, fmt.Errorf("table %q has no column %q", cfg.Table, c.want)
		}
	}
	if !writable {
		return out, nil
	}
	query, tableArg := pgUnique, db.dialect.quote(table)
	if db.dialect == mysqlDialect {
		query, tableArg = mysqlUnique, table
	}
	var n int
	if err := db.sql.QueryRowContext(ctx, query, tableArg, out.KeyColumn).Scan(&n); err != nil {
		return cfg, fmt.Errorf("reading indexes of table %q: %w", cfg.Table, err)
	}
	if n == 0 {
		return cfg, fmt.Errorf("column %q of table %q is neither PRIMARY KEY nor UNIQUE, so write_through cannot upsert",
			cfg.KeyColumn, cfg.Table)
	}
	return out, db.ensureExpiry(ctx)
}

// catalogColumns returns the name of the table matching name, exactly or
// else case-insensitively, and its columns; "" if there is none.
func (db *DB) catalogColumns(ctx context.Context, name string) (string, []string, error) {
	query := pgColumns
	if db.dialect == mysqlDialect {
		query = mysqlColumns
	}
	rows, err := db.sql.QueryContext(ctx, query, name)
	if err != nil {
		return "", nil, fmt.Errorf("reading columns of table %q: %w", name, err)
	}
	defer rows.Close()
	byTable := map[string][]string{}
	for rows.Next() {
		var t, c string
		if err := rows.Scan(&t, &c); err != nil {
			return "", nil, fmt.Errorf("reading columns of table %q: %w", name, err)
		}
		byTable[t] = append(byTable[t], c)
	}
	if err := rows.Err(); err != nil {
		return "", nil, fmt.Errorf("reading columns of table %q: %w", name, err)
	}
	if cols, ok := byTable[name]; ok {
		return name, cols, nil
	}
	if len(byTable) > 1 {
		return "", nil, fmt.Errorf("table %q matches %d tables that differ only in case; name one exactly", name, len(byTable))
	}
	for t, cols := range byTable {
		return t, cols, nil
	}
	return "", nil, nil
}

// pick returns the name in names equal to want, exactly or else
// case-insensitively; "" if none is.
func pick(names []string, want string) string {
	found := ""
	for _, n := range names {
		if n == want {
			return n
		}
		if strings.EqualFold(n, want) {
			found = n
		}
	}
	return found
}

// ensureExpiry makes [ExpiryTable] unless it exists. Nodes starting at
// once may race to create it; a failure is ignored when the table exists
// afterwards.
func (db *DB) ensureExpiry(ctx context.Context) error {
	_, err := db.sql.ExecContext(ctx, db.dialect.expiryDDL)
	if err == nil {
		return nil
	}
	if ok, _ := db.hasExpiry(ctx); ok {
		return nil
	}
	return fmt.Errorf("creating table %q in %s: %w", ExpiryTable, db.describe(), err)
}

// hasExpiry reports whether db has [ExpiryTable]. A read-only table on a
// database without it loads without expiries: nothing wrote any.
func (db *DB) hasExpiry(ctx context.Context) (bool, error) {
	if !db.Shared() {
		return true, nil // Open makes it
	}
	t, _, err := db.catalogColumns(ctx, ExpiryTable)
	return t == ExpiryTable, err
}
