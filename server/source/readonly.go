package source

import (
	"database/sql"
	"fmt"
)

// ReadOnly opens a second handle on the database that cannot write: SQLite
// refuses any statement that would change it (query_only). Loader plugins'
// sql_query runs on it. The caller closes it. A shared database (from
// [OpenShared]) has none: it is an error.
func (db *DB) ReadOnly() (*sql.DB, error) {
	if db.Shared() {
		return nil, fmt.Errorf("%s: no read-only handle on a shared database", db.describe())
	}
	dsn, err := dataSourceName(db.path)
	if err != nil {
		return nil, err
	}
	handle, err := sql.Open("sqlite", dsn+"&_pragma=query_only(1)")
	if err != nil {
		return nil, fmt.Errorf("opening sqlite database %q read-only: %w", db.path, err)
	}
	handle.SetMaxOpenConns(MaxOpenConns)
	return handle, nil
}
