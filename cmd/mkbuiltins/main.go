// Command mkbuiltins builds the shipped plugins that the node binary
// carries (package server/plugin/builtin): every policy/<name> and
// loader/<name> with a main.go, compiled to WebAssembly and gzipped into
// server/plugin/builtin/<name>.wasm.gz. Files there of plugins that no
// longer exist are removed. Run it from the module root:
//
//	go tool task builtins
//
// The output is reproducible byte for byte: the build is run with fixed
// flags (-trimpath, -buildvcs=false, CGO_ENABLED=0, no GOFLAGS) and gzip
// with a fixed header (no name, no time), so the same sources and the same
// Go release give the same files in any directory; go tool task lint
// checks that the committed files are what this makes. The C policy
// (policy/fifo-c) needs clang and is not built in.
package main

import (
	"bytes"
	"compress/gzip"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
)

func main() {
	out := flag.String("o", "server/plugin/builtin", "output directory")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "mkbuiltins:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	var dirs []string
	for _, pattern := range []string{"policy/*/main.go", "loader/*/main.go"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			return err
		}
		for _, f := range m {
			dirs = append(dirs, filepath.Dir(f))
		}
	}
	if len(dirs) == 0 {
		return fmt.Errorf("no policy/*/main.go or loader/*/main.go: run it from the module root")
	}
	tmp, err := os.MkdirTemp("", "mkbuiltins")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	var names []string
	for _, dir := range dirs {
		name := filepath.Base(dir)
		wasm, err := build(dir, filepath.Join(tmp, name+".wasm"))
		if err != nil {
			return err
		}
		gz, err := compress(wasm)
		if err != nil {
			return err
		}
		dst := filepath.Join(out, name+".wasm.gz")
		if err := os.WriteFile(dst, gz, 0o644); err != nil {
			return err
		}
		fmt.Printf("built %s (%d bytes, %d gzipped)\n", dst, len(wasm), len(gz))
		names = append(names, name)
	}
	return removeStale(out, names)
}

// build compiles the plugin in dir to path with the fixed flags and
// returns the module.
func build(dir, path string) ([]byte, error) {
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-buildmode=c-shared", "-o", path, "./"+dir)
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0", "GOFLAGS=", "GOWASM=")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("building %s with %s: %w", dir, runtime.Version(), err)
	}
	return os.ReadFile(path)
}

// compress gzips b with a header that holds no name and no time, so the
// same b always gives the same bytes.
func compress(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	zw.OS = 255 // unknown, rather than the builder's
	if _, err := zw.Write(b); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// removeStale deletes the *.wasm.gz files in out that are not of names.
func removeStale(out string, names []string) error {
	old, err := filepath.Glob(filepath.Join(out, "*.wasm.gz"))
	if err != nil {
		return err
	}
	for _, f := range old {
		if !slices.Contains(names, strings.TrimSuffix(filepath.Base(f), ".wasm.gz")) {
			if err := os.Remove(f); err != nil {
				return err
			}
			fmt.Printf("removed %s\n", f)
		}
	}
	return nil
}
