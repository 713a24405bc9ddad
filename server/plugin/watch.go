package plugin

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// settleTime is how long a file must stay unchanged after an event before
// it is reloaded, so a file being copied in is read once, whole.
const settleTime = 150 * time.Millisecond

// Watcher watches a manager's plugins directory. Make it with
// [Manager.NewWatcher] before [Manager.LoadAll], so no change falls between
// the two, then Run it.
type Watcher struct {
	m *Manager
	w *fsnotify.Watcher
}

// NewWatcher starts watching the plugins directory (creating it if
// missing). Events are queued until Run.
func (m *Manager) NewWatcher() (*Watcher, error) {
	if err := os.MkdirAll(m.dir, 0o755); err != nil {
		return nil, fmt.Errorf("plugins directory: %w", err)
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watching plugins: %w", err)
	}
	if err := w.Add(m.dir); err != nil {
		w.Close()
		return nil, fmt.Errorf("watching plugins directory %s: %w", m.dir, err)
	}
	return &Watcher{m: m, w: w}, nil
}

// Watch is NewWatcher then Run.
func (m *Manager) Watch(ctx context.Context) error {
	w, err := m.NewWatcher()
	if err != nil {
		return err
	}
	return w.Run(ctx)
}

// Run reloads a plugin whenever its file in the directory is created,
// written or renamed into place, until ctx is done, then stops watching. A
// removed file is logged; its loaded version keeps serving.
func (wt *Watcher) Run(ctx context.Context) error {
	m, w := wt.m, wt.w
	defer w.Close()
	var wg sync.WaitGroup
	defer wg.Wait()
	timers := map[string]*time.Timer{}
	for {
		select {
		case <-ctx.Done():
			for _, t := range timers {
				t.Stop()
			}
			return nil
		case err := <-w.Errors:
			m.log.Error("watching plugins", "dir", m.dir, "err", err)
		case ev := <-w.Events:
			if !strings.HasSuffix(ev.Name, ".wasm") {
				continue
			}
			if ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
				m.log.Warn("plugin file removed; its loaded version keeps serving", "file", ev.Name)
				continue
			}
			path := ev.Name
			if t := timers[path]; t != nil {
				t.Reset(settleTime)
				continue
			}
			timers[path] = time.AfterFunc(settleTime, func() {
				wg.Add(1)
				defer wg.Done()
				if ctx.Err() == nil {
					_ = m.Reload(ctx, filepath.Clean(path)) // refusals are logged and counted
				}
			})
		}
	}
}
