package plugin

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// settleTime is how long a file must stay unchanged after an event before
// it is reloaded, so a file being copied in is read once, whole.
const settleTime = 150 * time.Millisecond

// Watch reloads a plugin whenever its file in the directory is created,
// written or renamed into place, until ctx is done. A removed file is
// logged; its loaded version keeps serving. Watch returns when ctx is done,
// or at once if the directory cannot be watched.
func (m *Manager) Watch(ctx context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watching plugins: %w", err)
	}
	defer w.Close()
	if err := w.Add(m.dir); err != nil {
		return fmt.Errorf("watching plugins directory %s: %w", m.dir, err)
	}
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
