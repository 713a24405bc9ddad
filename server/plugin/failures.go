package plugin

import (
	"sync"
	"sync/atomic"
	"time"
)

// Failure is one failure of a plugin: a module refused, or an instance
// discarded after a trap, a deadline or an invalid answer.
type Failure struct {
	// Reason is the failure's class, as distcache_plugin_failures_total
	// counts it: "invalid", "read", "file", "trap" (which includes running
	// out of memory), "deadline" or "bad_call".
	Reason string
	Err    error
	At     time.Time
	// Group is the group whose instance failed; empty for a module
	// refused.
	Group string
}

// failureRecord is what the runtime remembers of one plugin name's
// failures since it started, across its versions.
type failureRecord struct {
	count int64
	last  Failure
	// failing says that the loader's last call failed and none has
	// succeeded since (loaders only).
	failing bool
}

// failures keeps a failureRecord per plugin name.
type failures struct {
	mu     sync.Mutex
	byName map[string]*failureRecord
	// anyFailing counts the loaders whose failing is set, so that a call
	// that succeeds takes no lock when none is.
	anyFailing atomic.Int64
}

// record counts f against plugin. Names that are not plugin names (a
// file refused for its name) are not kept.
func (fs *failures) record(plugin string, f Failure) {
	if !namePattern.MatchString(plugin) {
		return
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.byName == nil {
		fs.byName = map[string]*failureRecord{}
	}
	r := fs.byName[plugin]
	if r == nil {
		r = &failureRecord{}
		fs.byName[plugin] = r
	}
	r.count++
	r.last = f
}

// setFailing sets or clears the loader plugin's failing state.
func (fs *failures) setFailing(plugin string, failing bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	r := fs.byName[plugin]
	if r == nil || r.failing == failing {
		return
	}
	r.failing = failing
	if failing {
		fs.anyFailing.Add(1)
	} else {
		fs.anyFailing.Add(-1)
	}
}

// succeeded clears the loader plugin's failing state after a call that
// did not fail.
func (fs *failures) succeeded(plugin string) {
	if fs.anyFailing.Load() > 0 {
		fs.setFailing(plugin, false)
	}
}

// get returns plugin's record (the zero record if it never failed).
func (fs *failures) get(plugin string) failureRecord {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if r := fs.byName[plugin]; r != nil {
		return *r
	}
	return failureRecord{}
}
