package source

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// maxBatch bounds the writes one transaction commits.
const maxBatch = 256

// batchTimeout bounds one group commit; it serves several callers, so it
// runs on its own deadline rather than any one caller's.
const batchTimeout = 10 * time.Second

// committer turns concurrent writes to one table into group commits: one
// goroutine takes the next write, then every write that has queued behind
// it (up to maxBatch), and commits them in one transaction (one fsync). A
// burst of N concurrent Sets costs a few commits instead of N. It is safe
// for concurrent use; close stops it.
type committer struct {
	db            *sql.DB
	table         string // the name ExpiryTable knows it by
	write, remove *sql.Stmt
	// setExpiry and clearExpiry are the statements on ExpiryTable a write
	// runs with its row's.
	setExpiry, clearExpiry string
	retryable              func(error) bool

	ops     chan *writeOp
	quit    chan struct{}
	stop    sync.Once
	done    chan struct{}
	commits atomic.Int64 // transactions committed, for tests and benchmarks
}

type writeOp struct {
	key       string
	value     []byte
	expiresAt int64 // Unix milliseconds; 0: never
	remove    bool
	done      chan error // buffered: the committer never waits on a caller
}

func newCommitter(db *sql.DB, d *dialect, table string, write, remove *sql.Stmt) *committer {
	c := &committer{db: db, table: table, write: write, remove: remove,
		setExpiry: d.setExpirySQL(), clearExpiry: d.clearExpirySQL(), retryable: d.retryable,
		ops: make(chan *writeOp, maxBatch), quit: make(chan struct{}), done: make(chan struct{})}
	go c.run()
	return c
}

// errClosed is returned for writes after the table closed.
var errClosed = errors.New("table closed")

// do queues op and returns once it is committed or failed. If ctx ends
// first, do returns ctx's error, and the write may still be committed.
func (c *committer) do(ctx context.Context, op *writeOp) error {
	op.done = make(chan error, 1)
	select {
	case c.ops <- op:
	case <-c.quit:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-op.done:
		return err
	case <-c.done: // closed: op was committed before, or never will be
		select {
		case err := <-op.done:
			return err
		default:
			return errClosed
		}
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run commits batches until close.
func (c *committer) run() {
	defer close(c.done)
	batch := make([]*writeOp, 0, maxBatch)
	for {
		select {
		case <-c.quit:
			return
		case op := <-c.ops:
			batch = append(batch[:0], op)
		}
	drain:
		for len(batch) < maxBatch {
			select {
			case op := <-c.ops:
				batch = append(batch, op)
			default:
				break drain
			}
		}
		c.commits.Add(1)
		c.commit(batch)
	}
}

// close stops the committer; writes queued but not taken fail. It is
// idempotent.
func (c *committer) close() {
	c.stop.Do(func() { close(c.quit) })
	<-c.done
	for {
		select {
		case op := <-c.ops:
			op.done <- errClosed
		default:
			return
		}
	}
}

// commit runs batch in one transaction. If the transaction fails, each
// write is retried alone, so one bad write fails only its own caller.
func (c *committer) commit(batch []*writeOp) {
	ctx, cancel := context.WithTimeout(context.Background(), batchTimeout)
	defer cancel()
	if len(batch) > 1 {
		if err := c.inTx(ctx, batch); err == nil {
			for _, op := range batch {
				op.done <- nil
			}
			return
		}
	}
	for _, op := range batch {
		op.done <- c.alone(ctx, op)
	}
}

// maxTries bounds the transactions one write alone takes when a shared
// database ends them for a deadlock with another node's writes.
const maxTries = 4

// alone commits op in its own transaction, again if the database chose
// it as a deadlock's victim.
func (c *committer) alone(ctx context.Context, op *writeOp) error {
	var err error
	for range maxTries {
		if err = c.inTx(ctx, []*writeOp{op}); err == nil || !c.retryable(err) {
			return err
		}
	}
	return err
}

func (c *committer) inTx(ctx context.Context, batch []*writeOp) (err error) {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, tx.Rollback())
		}
	}()
	write, remove := tx.StmtContext(ctx, c.write), tx.StmtContext(ctx, c.remove)
	for _, op := range batch {
		if op.remove {
			_, err = remove.ExecContext(ctx, op.key)
		} else {
			_, err = write.ExecContext(ctx, op.key, op.value)
		}
		// The row's expiry goes with it, in the same transaction.
		if err == nil && op.expiresAt != 0 {
			_, err = tx.ExecContext(ctx, c.setExpiry, c.table, op.key, op.expiresAt)
		} else if err == nil {
			_, err = tx.ExecContext(ctx, c.clearExpiry, c.table, op.key)
		}
		if err != nil {
			return fmt.Errorf("key %q: %w", op.key, err)
		}
	}
	return tx.Commit()
}

// Commits returns how many transactions the table's writes have taken.
func (t *Table) Commits() int64 {
	if t.commits == nil {
		return 0
	}
	return t.commits.commits.Load()
}
