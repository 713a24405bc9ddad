package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"github.com/redis/go-redis/v9"

	distcachev1 "github.com/distcache/distcache/gen/distcache/v1"
	"github.com/distcache/distcache/gen/distcache/v1/distcachev1connect"
	"github.com/distcache/distcache/internal/childproc"
	"github.com/distcache/distcache/server/cache"
)

// result is one store's memory before and after the fill; -1 means not
// measured.
type result struct {
	name                  string
	rssBefore, rssAfter   int64
	heapBefore, heapAfter int64
	accounted             int64
	fill                  time.Duration
}

const group = "mem"

func key(i, n int) string { return fmt.Sprintf("k%0*d", n-1, i) }

// measureNode starts a node with one group without a loader, fills it
// with unary Sets over gRPC and reads its RSS, its heap (from the pprof
// endpoint, after a collection) and its group's accounted bytes.
func measureNode(ctx context.Context, o *options, dir string) (result, error) {
	r := result{name: "distcache node"}
	bin := o.bin
	if bin == "" {
		var err error
		if bin, err = childproc.BuildNode(ctx, dir); err != nil {
			return r, err
		}
	}
	groups := filepath.Join(dir, "groups.yaml")
	yaml := fmt.Sprintf("groups:\n  - name: %s\n    capacity: %s\n", group, o.capacity)
	if err := os.WriteFile(groups, []byte(yaml), 0o644); err != nil {
		return r, err
	}
	plugins := filepath.Join(dir, "plugins")
	if err := os.MkdirAll(plugins, 0o755); err != nil {
		return r, err
	}
	addr, err := childproc.FreeAddr()
	if err != nil {
		return r, err
	}
	debug, err := childproc.FreeAddr()
	if err != nil {
		return r, err
	}
	node, err := childproc.Start("node", -1, childproc.NodeEnv(o.nodeEnv...), bin, "--addr", addr, "--debug-addr", debug,
		"--db", filepath.Join(dir, "mem.db"), "--config", groups, "--plugins", plugins,
		"--plugin-cache", "", "--builtin-plugins=false", "--log-level", "error", "--shutdown-delay", "0s")
	if err != nil {
		return r, err
	}
	defer node.Stop()
	if err := node.WaitListening(ctx, addr); err != nil {
		return r, fmt.Errorf("%w\n%s", err, node.Output())
	}
	base := "http://" + addr
	var clients []distcachev1connect.CacheServiceClient
	var protocols http.Protocols
	protocols.SetUnencryptedHTTP2(true)
	for range o.conns {
		tr := &http.Transport{Protocols: &protocols}
		defer tr.CloseIdleConnections()
		clients = append(clients, distcachev1connect.NewCacheServiceClient(&http.Client{Transport: tr}, base, connect.WithGRPC()))
	}
	admin := distcachev1connect.NewAdminServiceClient(http.DefaultClient, base)

	// One Set first, so that connections, handlers and their pools exist
	// before the baseline.
	if err := set(ctx, clients[0], key(o.n, o.keyLen), make([]byte, o.valLen)); err != nil {
		return r, err
	}
	if r.heapBefore, err = nodeHeap(ctx, debug); err != nil {
		return r, err
	}
	if r.rssBefore, err = rss(node.Pid()); err != nil {
		return r, err
	}
	accountedBefore, err := accounted(ctx, admin)
	if err != nil {
		return r, err
	}
	start := time.Now()
	var next atomic.Int64
	errs := make(chan error, o.callers)
	var wg sync.WaitGroup
	for c := range o.callers {
		client := clients[c%len(clients)]
		wg.Go(func() {
			value := make([]byte, o.valLen)
			for {
				i := int(next.Add(1) - 1)
				if i >= o.n || ctx.Err() != nil {
					return
				}
				if err := set(ctx, client, key(i, o.keyLen), value); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return r, err
	}
	r.fill = time.Since(start)
	if r.heapAfter, err = nodeHeap(ctx, debug); err != nil {
		return r, err
	}
	if r.rssAfter, err = rss(node.Pid()); err != nil {
		return r, err
	}
	after, err := accounted(ctx, admin)
	r.accounted = after - accountedBefore
	return r, err
}

func set(ctx context.Context, c distcachev1connect.CacheServiceClient, key string, value []byte) error {
	_, err := c.Set(ctx, connect.NewRequest(&distcachev1.SetRequest{Group: group, Key: key, Value: value}))
	return err
}

func accounted(ctx context.Context, admin distcachev1connect.AdminServiceClient) (int64, error) {
	g := group
	resp, err := admin.GetStats(ctx, connect.NewRequest(&distcachev1.GetStatsRequest{Group: &g}))
	if err != nil {
		return 0, fmt.Errorf("GetStats: %w", err)
	}
	if len(resp.Msg.GetGroups()) != 1 {
		return 0, fmt.Errorf("GetStats: %d groups, want 1", len(resp.Msg.GetGroups()))
	}
	return resp.Msg.GetGroups()[0].GetBytes(), nil
}

// nodeHeap returns the node's live heap (HeapAlloc) right after the
// collection its heap profile endpoint runs with gc=1.
func nodeHeap(ctx context.Context, debugAddr string) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+debugAddr+"/debug/pprof/heap?gc=1&debug=1", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(body)) {
		if rest, ok := strings.CutPrefix(line, "# HeapAlloc = "); ok {
			return strconv.ParseInt(strings.TrimSpace(rest), 10, 64)
		}
	}
	return 0, fmt.Errorf("heap profile of %s has no HeapAlloc", debugAddr)
}

// measureInProcess fills a cache.Group in this process, each Set with a
// key and value of its own as a server's request would bring.
func measureInProcess(o *options) (result, error) {
	r := result{name: "cache.Group in-process"}
	g, err := cache.NewGroup(cache.Config{Name: group, Capacity: 1 << 40}, cache.WithSweepInterval(0))
	if err != nil {
		return r, err
	}
	defer g.Close()
	ctx := context.Background()
	r.heapBefore = selfHeap()
	if r.rssBefore, err = rss(os.Getpid()); err != nil {
		return r, err
	}
	start := time.Now()
	for i := range o.n {
		if err := g.Set(ctx, key(i, o.keyLen), make([]byte, o.valLen), 0); err != nil {
			return r, err
		}
	}
	r.fill = time.Since(start)
	r.heapAfter = selfHeap()
	if r.rssAfter, err = rss(os.Getpid()); err != nil {
		return r, err
	}
	r.accounted = g.Stats().Bytes
	return r, nil
}

func selfHeap() int64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// measureRedis starts redis-server without persistence and fills it with
// pipelined SETs.
func measureRedis(ctx context.Context, o *options, dir string) (result, error) {
	r := result{name: "redis-server", heapBefore: -1, heapAfter: -1, accounted: -1}
	addr, err := childproc.FreeAddr()
	if err != nil {
		return r, err
	}
	port := addr[strings.LastIndexByte(addr, ':')+1:]
	srv, err := childproc.Start("redis-server", -1, os.Environ(), "redis-server", "--bind", "127.0.0.1", "--port", port,
		"--save", "", "--appendonly", "no", "--dir", dir, "--protected-mode", "no")
	if err != nil {
		return r, err
	}
	defer srv.Stop()
	if err := srv.WaitListening(ctx, addr); err != nil {
		return r, err
	}
	client := redis.NewClient(&redis.Options{Addr: addr, DisableIdentity: true})
	defer client.Close()
	if err := client.Ping(ctx).Err(); err != nil {
		return r, err
	}
	if r.rssBefore, err = rss(srv.Pid()); err != nil {
		return r, err
	}
	start := time.Now()
	value := make([]byte, o.valLen)
	const batch = 1000
	for i := 0; i < o.n; i += batch {
		p := client.Pipeline()
		for j := i; j < min(i+batch, o.n); j++ {
			p.Set(ctx, key(j, o.keyLen), value, 0)
		}
		if _, err := p.Exec(ctx); err != nil {
			return r, err
		}
	}
	r.fill = time.Since(start)
	if n, err := client.DBSize(ctx).Result(); err != nil || n != int64(o.n) {
		return r, fmt.Errorf("redis holds %d keys, want %d (%v)", n, o.n, err)
	}
	r.rssAfter, err = rss(srv.Pid())
	return r, err
}
