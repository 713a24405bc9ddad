package plugin

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestCompileRefusesBadModules(t *testing.T) {
	rt := newTestRuntime(t, Config{PolicyCallTimeout: 300 * time.Millisecond})
	for _, tc := range []struct {
		name string
		wasm func(t *testing.T) []byte
		want string
	}{
		{"not wasm", func(*testing.T) []byte { return []byte("#!/bin/sh\necho not a module\n") }, "not a valid WebAssembly module"},
		{"empty file", func(*testing.T) []byte { return nil }, "not a valid WebAssembly module"},
		{"wrong ABI version", func(t *testing.T) []byte { return buildWasm(t, "server/plugin/testdata/badabi") }, "ABI version 2"},
		{"missing export", func(t *testing.T) []byte { return buildWasm(t, "server/plugin/testdata/noinit") }, "lacks the export distcache_policy_init"},
		{"import not granted", func(t *testing.T) []byte { return buildWasm(t, "server/plugin/testdata/badimport") }, "imports env.secret"},
		{"traps during init", func(t *testing.T) []byte { return buildWasm(t, "server/plugin/testdata/initpanic") }, "starting instance"},
		{"loops forever in init", func(t *testing.T) []byte { return buildWasm(t, "server/plugin/testdata/initloop") }, "deadline"},
		{"policy and loader at once", func(t *testing.T) []byte { return buildWasm(t, "server/plugin/testdata/both") }, "not both"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := rt.Compile(context.Background(), "bad", tc.wasm(t))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Compile = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestCompileAcceptsRawModules(t *testing.T) {
	rt := newTestRuntime(t, Config{})
	for pkg, kind := range map[string]Kind{
		"server/plugin/testdata/badpolicy": KindPolicy,
		"server/plugin/testdata/rawloader": KindLoader,
	} {
		m, err := rt.Compile(context.Background(), "ok", buildWasm(t, pkg))
		if err != nil {
			t.Fatalf("%s: %v", pkg, err)
		}
		if m.Kind() != kind || len(m.SHA256()) != 64 {
			t.Fatalf("%s: kind %s sha %q", pkg, m.Kind(), m.SHA256())
		}
	}
}
