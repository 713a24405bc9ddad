package plugin

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
)

// Origin says where a loaded plugin's module came from.
type Origin string

// The origins of a module.
const (
	// OriginBuiltin is a module compiled into the node binary (see
	// [Manager.SetBuiltins]).
	OriginBuiltin Origin = "builtin"
	// OriginFile is a file of the plugins directory. It overrides a
	// built-in module of the same name.
	OriginFile Origin = "file"
)

// builtinFile is what a failure's log record says of a built-in module's
// file.
const builtinFile = "built-in"

// SetBuiltins gives the manager modules to load when the plugins directory
// has no file of their name: fsys holds <name>.wasm files, or
// <name>.wasm.gz files of gzipped modules. A file <name>.wasm in the
// directory overrides the built-in <name>: it is loaded instead at start
// (the built-in one only if the file is refused), swapped in when it
// appears, and when it is removed the built-in one is loaded again.
//
// Call it before [Manager.StartLoadAll]. It returns an error, and sets
// nothing, for a file whose name is not a valid plugin name or for two
// files of the same name. fsys must stay readable while the manager runs.
func (m *Manager) SetBuiltins(fsys fs.FS) error {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return fmt.Errorf("built-in plugins: %w", err)
	}
	files := map[string]string{}
	for _, e := range entries {
		base := e.Name()
		name, ok := strings.CutSuffix(base, ".wasm.gz")
		if !ok {
			name, ok = strings.CutSuffix(base, ".wasm")
		}
		switch {
		case !ok || e.IsDir():
			continue
		case !namePattern.MatchString(name):
			return fmt.Errorf("built-in plugin %q: the name does not match %s", base, namePattern)
		case files[name] != "":
			return fmt.Errorf("built-in plugins %q and %q have the same name", files[name], base)
		}
		files[name] = base
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.builtinFS, m.builtins = fsys, files
	return nil
}

// hasBuiltin reports whether name is a built-in module.
func (m *Manager) hasBuiltin(name string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.builtins[name] != ""
}

// builtinNames returns the names of the built-in modules.
func (m *Manager) builtinNames() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	names := make([]string, 0, len(m.builtins))
	for name := range m.builtins {
		names = append(names, name)
	}
	return names
}

// loadBuiltin compiles the built-in module name and swaps it in, as
// [Manager.Reload] does for a file.
func (m *Manager) loadBuiltin(ctx context.Context, name string) error {
	wasm, err := m.readBuiltin(name)
	if err != nil {
		m.rt.failure(name, builtinFile, "", reasonRead, err)
		return err
	}
	return m.install(ctx, name, wasm, OriginBuiltin, "")
}

// readBuiltin returns the bytes of the built-in module name, gunzipped,
// at most the runtime's MaxModuleBytes.
func (m *Manager) readBuiltin(name string) ([]byte, error) {
	m.mu.Lock()
	fsys, base := m.builtinFS, m.builtins[name]
	m.mu.Unlock()
	if base == "" {
		return nil, fmt.Errorf("built-in plugin %q: %w", name, fs.ErrNotExist)
	}
	f, err := fsys.Open(base)
	if err != nil {
		return nil, fmt.Errorf("built-in plugin %s: %w", base, err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(base, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("built-in plugin %s: %w", base, err)
		}
		r = zr
	}
	limit := m.rt.cfg.MaxModuleBytes
	wasm, err := io.ReadAll(io.LimitReader(r, limit+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("built-in plugin %s: %w", base, err)
	case int64(len(wasm)) > limit:
		return nil, fmt.Errorf("built-in plugin %s is over the plugin size limit of %d bytes", base, limit)
	}
	return wasm, nil
}

// fileChanged reloads the plugin at path after its file was written,
// created, renamed or removed: a file that is there is reloaded; one that
// is gone leaves its loaded version serving, unless a built-in module of
// its name exists, which is then loaded in its place.
func (m *Manager) fileChanged(ctx context.Context, path string) error {
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		return m.Reload(ctx, path)
	}
	name, err := nameOf(path)
	if err != nil {
		return nil // never loaded
	}
	v := m.current(name)
	switch {
	case v == nil || v.origin != OriginFile:
		return nil
	case !m.hasBuiltin(name):
		m.log.Warn("plugin file removed; its loaded version keeps serving", "file", path)
		return nil
	}
	m.log.Info("plugin file removed; the built-in version is loaded in its place", "file", path, "plugin", name)
	return m.loadBuiltin(ctx, name)
}
