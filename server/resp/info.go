package resp

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/tidwall/redcon"

	distcachev1 "github.com/distcache/distcache/gen/distcache/v1"
	"github.com/distcache/distcache/gen/distcache/v1/distcachev1connect"
)

// INFO [section ...]: the Server, Clients, Keyspace and Distcache
// sections, or the ones named ("all", "default" and "everything" name
// them all). Keyspace and Distcache come from AdminService.GetStats, with
// its scope (read).
func cmdInfo(s *Server, sess *session, c redcon.Conn, args [][]byte) {
	want := map[string]bool{}
	for _, a := range args[1:] {
		want[strings.ToLower(string(a))] = true
	}
	all := len(want) == 0 || want["all"] || want["default"] || want["everything"]
	var b strings.Builder
	section := func(name string, lines func(*strings.Builder) error) error {
		if !all && !want[strings.ToLower(name)] {
			return nil
		}
		if b.Len() > 0 {
			b.WriteString("\r\n")
		}
		b.WriteString("# " + name + "\r\n")
		return lines(&b)
	}
	var stats *distcachev1.GetStatsResponse
	groupStats := func() ([]*distcachev1.GroupStats, error) {
		if stats == nil {
			stats = &distcachev1.GetStatsResponse{}
			if err := s.call(sess, distcachev1connect.AdminServiceGetStatsProcedure, &distcachev1.GetStatsRequest{}, stats); err != nil {
				return nil, err
			}
		}
		return stats.GetGroups(), nil
	}
	for _, sec := range []struct {
		name  string
		lines func(*strings.Builder) error
	}{
		{"Server", s.infoServer},
		{"Clients", func(b *strings.Builder) error {
			fmt.Fprintf(b, "connected_clients:%d\r\n", s.clients())
			return nil
		}},
		{"Keyspace", func(b *strings.Builder) error {
			groups, err := groupStats()
			var keys int64
			for _, g := range groups {
				keys += g.GetItems()
			}
			fmt.Fprintf(b, "db0:keys=%d,expires=0,avg_ttl=0\r\n", keys)
			return err
		}},
		{"Distcache", func(b *strings.Builder) error {
			groups, err := groupStats()
			for _, g := range groups {
				fmt.Fprintf(b, "group_%s:items=%d,bytes=%d,capacity=%d,gets=%d,hits=%d,misses=%d,loads=%d,hit_ratio=%.4f,policy=%s\r\n",
					g.GetGroup(), g.GetItems(), g.GetBytes(), g.GetCapacity(), g.GetGets(), g.GetHits(), g.GetMisses(),
					g.GetLoads(), g.GetHitRatio(), g.GetPolicy())
			}
			return err
		}},
	} {
		if err := section(sec.name, sec.lines); err != nil {
			c.WriteError(respError(err))
			return
		}
	}
	c.WriteBulkString(b.String())
}

// infoServer writes the Server section: what Redis clients parse
// (redis_version, redis_mode, ...) and distcache's own fields.
func (s *Server) infoServer(b *strings.Builder) error {
	up := time.Since(s.start)
	fmt.Fprintf(b, "redis_version:%s\r\nredis_mode:standalone\r\nos:%s %s\r\narch_bits:%d\r\n",
		redisVersion, runtime.GOOS, runtime.GOARCH, 32<<(^uint(0)>>63))
	fmt.Fprintf(b, "process_id:%d\r\ntcp_port:%s\r\nuptime_in_seconds:%d\r\nuptime_in_days:%d\r\n",
		os.Getpid(), s.port, int64(up/time.Second), int64(up/(24*time.Hour)))
	fmt.Fprintf(b, "distcache_go_version:%s\r\ndistcache_default_group:%s\r\ndistcache_groups:%s\r\n",
		runtime.Version(), s.cfg.DefaultGroup, strings.Join(s.cfg.Groups, ","))
	if s.cfg.NodeID != "" {
		fmt.Fprintf(b, "distcache_node_id:%s\r\n", s.cfg.NodeID)
	}
	return nil
}
