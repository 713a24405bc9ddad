package source

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestGroupCommit writes from many goroutines at once: every write is
// stored, they take fewer transactions than writes, and a write the
// database refuses fails only its own caller.
func TestGroupCommit(t *testing.T) {
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "x.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	exec(t, db, `CREATE TABLE small (k TEXT PRIMARY KEY, v BLOB CHECK (length(v) < 10))`)
	tbl := table(t, db, TableConfig{Table: "small", KeyColumn: "k", ValueColumn: "v"}, true)
	const writers, each = 32, 20
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				value := "ok"
				if w == 0 && i == 0 {
					value = "far too long for the check"
				}
				errs <- tbl.Write(context.Background(), fmt.Sprintf("w%d-%d", w, i), []byte(value), time.Time{})
			}
		})
	}
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		if err != nil {
			failed++
			if !strings.Contains(err.Error(), "CHECK") && !strings.Contains(err.Error(), "constraint") {
				t.Errorf("unexpected error: %v", err)
			}
		}
	}
	if failed != 1 {
		t.Fatalf("%d writes failed, want exactly the one the CHECK refuses", failed)
	}
	var rows int
	if err := db.SQL().QueryRow(`SELECT count(*) FROM small`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != writers*each-1 {
		t.Fatalf("%d rows stored, want %d", rows, writers*each-1)
	}
	if c := tbl.Commits(); c >= writers*each {
		t.Fatalf("%d writes took %d transactions: no group commit", writers*each, c)
	} else {
		t.Logf("%d concurrent writes in %d group commits", writers*each, c)
	}
	// Removes go the same way; a closed table refuses writes.
	if err := tbl.Remove(context.Background(), "w1-1"); err != nil {
		t.Fatal(err)
	}
	_ = tbl.Close()
	if err := tbl.Write(context.Background(), "late", []byte("x"), time.Time{}); err == nil {
		t.Fatal("a closed table took a write")
	}
}

// BenchmarkWriteThrough compares 16 concurrent writers committing one
// transaction per write (the statement alone, as before group commit)
// with the group commit Table.Write uses, in the same process.
func BenchmarkWriteThrough(b *testing.B) {
	db, err := Open(context.Background(), filepath.Join(b.TempDir(), "x.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	tbl, err := db.Table(context.Background(), DefaultTableConfig(), true)
	if err != nil {
		b.Fatal(err)
	}
	defer tbl.Close()
	value := make([]byte, 100)
	for _, tc := range []struct {
		name  string
		write func(key string) error
	}{
		{"one-commit-per-write", func(key string) error {
			_, err := tbl.write.ExecContext(context.Background(), key, value)
			return err
		}},
		{"group-commit", func(key string) error { return tbl.Write(context.Background(), key, value, time.Time{}) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetParallelism(8) // 16 writers on 2 cores
			var n sync.Mutex
			i := 0
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					n.Lock()
					i++
					key := fmt.Sprintf("bench-%d", i%10000)
					n.Unlock()
					if err := tc.write(key); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
