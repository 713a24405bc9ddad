package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

func TestFlagsAndEnvironment(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for _, tc := range []struct {
		name  string
		args  []string
		env   map[string]string
		check func(*flags) bool
	}{
		{"defaults", nil, nil, func(f *flags) bool {
			return f.addr == ":8080" && f.db == "./distcache.db" && f.plugins == "./plugins" && f.maxValueBytes == 1<<20 && f.config == ""
		}},
		{"env sets", nil, map[string]string{"DISTCACHE_ADDR": "127.0.0.1:9", "DISTCACHE_MAX_VALUE_BYTES": "2048", "DISTCACHE_ADMIN_TOKEN": "t", "DISTCACHE_SHUTDOWN_GRACE": "3s"},
			func(f *flags) bool {
				return f.addr == "127.0.0.1:9" && f.maxValueBytes == 2048 && f.adminToken == "t" && f.shutdownGrace == 3*time.Second
			}},
		{"flag wins over env", []string{"--addr", ":1"}, map[string]string{"DISTCACHE_ADDR": ":2"}, func(f *flags) bool { return f.addr == ":1" }},
		{"cluster from env", []string{"--addr", "127.0.0.1:9001"}, map[string]string{"DISTCACHE_ETCD": "127.0.0.1:2379", "DISTCACHE_NODE_ID": "n1", "DISTCACHE_LEASE_TTL": "5s"},
			func(f *flags) bool {
				return f.etcd == "127.0.0.1:2379" && f.nodeID == "n1" && f.leaseTTL == 5*time.Second && f.advertise == "127.0.0.1:9001"
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := parseFlags(tc.args, env(tc.env), &bytes.Buffer{})
			if err != nil || !tc.check(f) {
				t.Fatalf("parseFlags = %+v, %v", f, err)
			}
		})
	}
}

func TestBadFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"value limit zero", []string{"--max-value-bytes", "0"}, nil, "--max-value-bytes"},
		{"value limit over 64MiB", []string{"--max-value-bytes", "67108865"}, nil, "--max-value-bytes"},
		{"unknown grpc transport", []string{"--grpc-transport", "quic"}, nil, "--grpc-transport"},
		{"bad cors header", []string{"--cors-headers", "x-ok,bad header"}, nil, "--cors-headers"},
		{"bad env", nil, map[string]string{"DISTCACHE_MAX_VALUE_BYTES": "lots"}, "DISTCACHE_MAX_VALUE_BYTES"},
		{"unknown flag", []string{"--nope"}, nil, "nope"},
		{"stray argument", []string{"extra"}, nil, "extra"},
		{"bad log level", []string{"--log-level", "loud"}, nil, "--log-level"},
		{"bad log format", []string{"--log-format", "xml"}, nil, "--log-format"},
		{"lease ttl too short", []string{"--lease-ttl", "100ms"}, nil, "--lease-ttl"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			code := run(context.Background(), tc.args, func(k string) string { return tc.env[k] }, &bytes.Buffer{}, &stderr)
			if code == 0 || !strings.Contains(stderr.String(), tc.want) {
				t.Fatalf("run = %d, stderr %q; want failure naming %q", code, stderr.String(), tc.want)
			}
		})
	}
}
