package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
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
// written or renamed into place, until ctx is done, then stops watching.
// When a file is removed (or renamed away) and not put back within the
// settle time, the built-in module of its name, if any, is loaded in its
// place; otherwise the removal is logged and its loaded version keeps
// serving.
func (wt *Watcher) Run(ctx context.Context) error {
	m, w := wt.m, wt.w
	defer w.Close()
	var wg sync.WaitGroup
	defer wg.Wait()
	// A file's timer fires settleTime after its last event and hands the
	// path back to this loop, which starts the reload: every wg.Add runs
	// here, before the deferred Wait.
	timers := map[string]*time.Timer{}
	due := make(chan string)
	for {
		select {
		case <-ctx.Done():
			for _, t := range timers {
				t.Stop()
			}
			return nil
		case path := <-due:
			delete(timers, path)
			wg.Go(func() {
				_ = m.fileChanged(ctx, filepath.Clean(path)) // refusals are logged and counted
			})
		case err := <-w.Errors:
			m.log.Error("watching plugins", "dir", m.dir, "err", err)
		case ev := <-w.Events:
			if !strings.HasSuffix(ev.Name, ".wasm") {
				continue
			}
			path := ev.Name
			if t := timers[path]; t != nil {
				t.Reset(settleTime)
				continue
			}
			timers[path] = time.AfterFunc(settleTime, func() {
				select {
				case due <- path:
				case <-ctx.Done():
				}
			})
		}
	}
}

// readTimeout bounds reading one plugin file. Reading a regular file does
// not block, but one on a hung network file system can.
const readTimeout = 10 * time.Second

// fileError refuses a plugin file for what it is (not a regular file, or
// too large) rather than for what it holds.
type fileError struct {
	path, why string
}

func (e *fileError) Error() string { return e.path + " refused: " + e.why }

// readModule reads the plugin file at path: a regular file (symbolic links
// followed) of at most limit bytes. A named pipe, a device, a socket or a
// directory is refused before it is opened, and again after (it may have
// been swapped meanwhile), so opening never blocks: it is opened with
// O_NONBLOCK, which does nothing to a regular file. A file over the limit
// is refused unread, and no more than limit+1 bytes are read of one that
// grows meanwhile. The read is given readTimeout; if it overruns, the
// goroutine reading is left to finish (and close the file) by itself.
func readModule(ctx context.Context, path string, limit int64) ([]byte, error) {
	if st, err := os.Stat(path); err != nil {
		return nil, err
	} else if err := checkFile(path, st, limit); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err == nil {
		err = checkFile(path, st, limit)
	}
	if err != nil {
		return nil, errors.Join(err, f.Close())
	}
	type result struct {
		data []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		data, err := io.ReadAll(io.LimitReader(f, limit+1))
		done <- result{data, errors.Join(err, f.Close())}
	}()
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	select {
	case r := <-done:
		if r.err != nil {
			return nil, fmt.Errorf("reading %s: %w", path, r.err)
		}
		if int64(len(r.data)) > limit {
			return nil, &fileError{path, fmt.Sprintf("it grew past the plugin size limit of %d bytes while being read", limit)}
		}
		return r.data, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("reading %s: %w", path, ctx.Err())
	}
}

// checkFile refuses a file that is not regular or is over limit bytes.
func checkFile(path string, st fs.FileInfo, limit int64) error {
	mode := st.Mode()
	if !mode.IsRegular() {
		return &fileError{path, fmt.Sprintf("not a regular file (%s): only regular files are loaded", fileKind(mode))}
	}
	if st.Size() > limit {
		return &fileError{path, fmt.Sprintf("it is %d bytes, over the plugin size limit of %d bytes", st.Size(), limit)}
	}
	return nil
}

// fileKind names what a file that is not regular is.
func fileKind(mode fs.FileMode) string {
	switch {
	case mode&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case mode&fs.ModeDevice != 0, mode&fs.ModeCharDevice != 0:
		return "a device"
	case mode&fs.ModeSocket != 0:
		return "a socket"
	case mode.IsDir():
		return "a directory"
	default:
		return "mode " + mode.Type().String()
	}
}
