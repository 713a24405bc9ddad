package source

import (
	"errors"
	"fmt"
	"strings"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
)

// dialect is what differs between the SQL databases a [Table] runs on:
// placeholders, identifier quoting, the upsert, the value's cast and the
// expiry table's DDL. Everything else, the group commits and the expiry
// rule included, is shared.
type dialect struct {
	// kind is the loader kind: "sqlite", "postgres" or "mysql".
	kind string
	// driver is the database/sql driver name.
	driver string
	// quoteChar quotes identifiers.
	quoteChar string
	// numbered says placeholders are numbered ($1 or ?1); else they are ?.
	numbered  bool
	numPrefix string
	// valueExpr turns the value column into what is selected.
	valueExpr func(col string) string
	// upsertTail follows INSERT ... VALUES (...) to update an existing row
	// of conflict column k with the columns set.
	upsertTail func(k string, set ...string) string
	// writeValue is the placeholder expression of a written value.
	writeValue func(ph string) string
	// expiryDDL creates ExpiryTable if it does not exist.
	expiryDDL string
	// retryable reports an error that running the transaction again may
	// not meet: a deadlock or serialization failure.
	retryable func(error) bool
}

// quote quotes an identifier already checked by [checkIdent].
func (d *dialect) quote(ident string) string { return d.quoteChar + ident + d.quoteChar }

// ph returns the i-th (1-based) placeholder.
func (d *dialect) ph(i int) string {
	if d.numbered {
		return fmt.Sprintf("%s%d", d.numPrefix, i)
	}
	return "?"
}

// excludedUpsert is the ON CONFLICT form of SQLite and PostgreSQL.
func excludedUpsert(k string, set ...string) string {
	parts := make([]string, len(set))
	for i, c := range set {
		parts[i] = c + " = excluded." + c
	}
	return fmt.Sprintf(" ON CONFLICT (%s) DO UPDATE SET %s", k, strings.Join(parts, ", "))
}

var sqliteDialect = &dialect{
	kind: "sqlite", driver: "sqlite", quoteChar: `"`, numbered: true, numPrefix: "?",
	// CAST makes every value bytes (numbers as their text) and hides the
	// column's declared type, so the driver never turns a DATETIME
	// column's text into a time.Time.
	valueExpr:  func(col string) string { return "CAST(" + col + " AS BLOB)" },
	upsertTail: excludedUpsert,
	// coalesce: the driver may bind an empty []byte as NULL.
	writeValue: func(ph string) string { return "coalesce(" + ph + ", x'')" },
	expiryDDL: `CREATE TABLE IF NOT EXISTS ` + ExpiryTable + ` (
		tbl TEXT NOT NULL, key TEXT NOT NULL, expires_at INTEGER NOT NULL,
		PRIMARY KEY (tbl, key)) WITHOUT ROWID`,
	retryable: func(error) bool { return false }, // one writer at a time
}

// The value is selected as it is: database/sql turns numbers and times
// into their text when it is scanned into bytes.
func plainValue(col string) string { return col }
func plainWrite(ph string) string  { return ph }

var postgresDialect = &dialect{
	kind: "postgres", driver: "pgx", quoteChar: `"`, numbered: true, numPrefix: "$",
	valueExpr: plainValue, upsertTail: excludedUpsert, writeValue: plainWrite,
	expiryDDL: `CREATE TABLE IF NOT EXISTS ` + ExpiryTable + ` (
		tbl VARCHAR(63) NOT NULL, key VARCHAR(250) NOT NULL, expires_at BIGINT NOT NULL,
		PRIMARY KEY (tbl, key))`,
	retryable: func(err error) bool {
		var pe *pgconn.PgError
		// deadlock_detected, serialization_failure
		return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
	},
}

var mysqlDialect = &dialect{
	kind: "mysql", driver: "mysql", quoteChar: "`",
	valueExpr: plainValue, writeValue: plainWrite,
	upsertTail: func(_ string, set ...string) string {
		// VALUES(col), not the row alias of MySQL 8.0.19+: MariaDB knows
		// only the former.
		parts := make([]string, len(set))
		for i, c := range set {
			parts[i] = c + " = VALUES(" + c + ")"
		}
		return " ON DUPLICATE KEY UPDATE " + strings.Join(parts, ", ")
	},
	// Keys are at most 250 bytes; VARBINARY compares them byte for byte
	// (a case-insensitive collation would merge "A" and "a").
	expiryDDL: "CREATE TABLE IF NOT EXISTS " + ExpiryTable + " (" +
		"tbl VARCHAR(63) NOT NULL, `key` VARBINARY(250) NOT NULL, expires_at BIGINT NOT NULL, " +
		"PRIMARY KEY (tbl, `key`)) ENGINE=InnoDB",
	retryable: func(err error) bool {
		var me *mysql.MySQLError
		// ER_LOCK_DEADLOCK, ER_LOCK_WAIT_TIMEOUT
		return errors.As(err, &me) && (me.Number == 1213 || me.Number == 1205)
	},
}

// loadSQL is the query that loads a key's value and, when withExpiry,
// its expiry: arguments key or, with the expiry, table name, key, key
// (in the order of the text, as MySQL's ? needs).
func (d *dialect) loadSQL(tbl, k, v string, withExpiry bool) string {
	if !withExpiry {
		return fmt.Sprintf(`SELECT %s, NULL FROM %s WHERE %s = %s`, d.valueExpr(v), tbl, k, d.ph(1))
	}
	// The expiry is joined on the key argument, not on the key column, so
	// the column may have any type the key compares with.
	return fmt.Sprintf(`SELECT %s, e.expires_at FROM %s t LEFT JOIN %s e ON e.tbl = %s AND e.%s = %s WHERE t.%s = %s`,
		d.valueExpr("t."+v), tbl, ExpiryTable, d.ph(1), d.quote("key"), d.ph(2), k, d.ph(3))
}

// writeSQL upserts a row: arguments key, value.
func (d *dialect) writeSQL(tbl, k, v string) string {
	return fmt.Sprintf(`INSERT INTO %s (%s, %s) VALUES (%s, %s)`, tbl, k, v, d.ph(1), d.writeValue(d.ph(2))) +
		d.upsertTail(k, v)
}

// removeSQL deletes a row: argument key.
func (d *dialect) removeSQL(tbl, k string) string {
	return fmt.Sprintf(`DELETE FROM %s WHERE %s = %s`, tbl, k, d.ph(1))
}

// setExpirySQL upserts a row's expiry: arguments table name, key, expiry.
func (d *dialect) setExpirySQL() string {
	key := d.quote("key")
	return fmt.Sprintf(`INSERT INTO %s (tbl, %s, expires_at) VALUES (%s, %s, %s)`,
		ExpiryTable, key, d.ph(1), d.ph(2), d.ph(3)) + d.upsertTail("tbl, "+key, "expires_at")
}

// clearExpirySQL deletes a row's expiry: arguments table name, key.
func (d *dialect) clearExpirySQL() string {
	return fmt.Sprintf(`DELETE FROM %s WHERE tbl = %s AND %s = %s`, ExpiryTable, d.ph(1), d.quote("key"), d.ph(2))
}
