package node

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestBadClusterConfigStopsNode(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		c    ClusterConfig
		want string
	}{
		{"peer without port", ClusterConfig{Advertise: "127.0.0.1:1", Secret: "s", Peers: []string{"nocolon"}}, `"nocolon" is not host:port`},
		{"cert without key", ClusterConfig{Advertise: "127.0.0.1:1", TLSCert: "c.pem"}, "--tls-cert and --tls-key go together"},
		{"missing cert files", ClusterConfig{Advertise: "127.0.0.1:1", TLSCert: "nope.pem", TLSKey: "nope.key"}, "--tls-cert/--tls-key"},
		{"unreachable etcd", ClusterConfig{Advertise: "127.0.0.1:1", Secret: "s", Etcd: []string{"127.0.0.1:1"}, JoinTimeout: time.Second}, "--etcd"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20e9)
			defer cancel()
			_, err := New(ctx, Config{DBPath: filepath.Join(dir, "d.db"), PluginsDir: dir, Cluster: tc.c})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
