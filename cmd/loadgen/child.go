package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/distcache/distcache/internal/childproc"
)

// startNode starts a node on a free loopback port with a temporary
// database and one group without a loader, the default group of its
// Redis protocol listener on another port, and returns it with its base
// URL and that listener's address. bin empty builds ./server into dir
// first.
func startNode(ctx context.Context, o *options, dir string, cpu int) (_ *childproc.Child, url, respAddr string, err error) {
	bin := o.bin
	if bin == "" {
		if bin, err = childproc.BuildNode(ctx, dir); err != nil {
			return nil, "", "", err
		}
	}
	groups := filepath.Join(dir, "groups.yaml")
	yaml := fmt.Sprintf("groups:\n  - name: %s\n    capacity: 256MiB\n", o.group)
	if err := os.WriteFile(groups, []byte(yaml), 0o644); err != nil {
		return nil, "", "", err
	}
	plugins := filepath.Join(dir, "plugins")
	if err := os.MkdirAll(plugins, 0o755); err != nil {
		return nil, "", "", err
	}
	addr, err := childproc.FreeAddr()
	if err != nil {
		return nil, "", "", err
	}
	if respAddr, err = childproc.FreeAddr(); err != nil {
		return nil, "", "", err
	}
	c, err := childproc.Start("node", cpu, childproc.NodeEnv(), bin, "--addr", addr, "--db", filepath.Join(dir, "bench.db"),
		"--config", groups, "--plugins", plugins, "--plugin-cache", "", "--builtin-plugins=false", "--log-level", "warn", "--shutdown-delay", "0s",
		"--resp-addr", respAddr, "--resp-default-group", o.group)
	if err != nil {
		return nil, "", "", err
	}
	if err := c.WaitListening(ctx, addr); err != nil {
		c.Stop()
		return nil, "", "", err
	}
	return c, "http://" + addr, respAddr, nil
}

// startRedis starts redis-server on a free loopback port without
// persistence, and returns it with its address.
func startRedis(ctx context.Context, dir string, cpu int) (*childproc.Child, string, error) {
	addr, err := childproc.FreeAddr()
	if err != nil {
		return nil, "", err
	}
	_, port, _ := net.SplitHostPort(addr)
	c, err := childproc.Start("redis-server", cpu, os.Environ(), "redis-server", "--bind", "127.0.0.1", "--port", port,
		"--save", "", "--appendonly", "no", "--dir", dir, "--protected-mode", "no")
	if err != nil {
		return nil, "", err
	}
	if err := c.WaitListening(ctx, addr); err != nil {
		c.Stop()
		return nil, "", err
	}
	return c, addr, nil
}

// errNoRedis says why a run has no Redis column.
var errNoRedis = errors.New("redis-server not found; apt-get install -y redis-server to compare with Redis")
