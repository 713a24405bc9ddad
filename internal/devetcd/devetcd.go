// Package devetcd runs a real, single-member etcd server inside the
// process (go.etcd.io/etcd/server/v3/embed) on loopback, for the local
// cluster command and for end-to-end tests.
package devetcd

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Server is a running embedded etcd.
type Server struct {
	etcd  *embed.Etcd
	level zap.AtomicLevel // etcd's log level, raised by Close
	// Endpoint is the client address, host:port.
	Endpoint string
}

// Start starts etcd with its data in dir, serving clients on clientAddr
// and its peer port on peerAddr (host:port each; port 0 picks a free one).
// It returns once etcd is ready to serve, or an error after 30s.
func Start(dir, clientAddr, peerAddr string) (*Server, error) {
	clientAddr, err := resolve(clientAddr)
	if err != nil {
		return nil, err
	}
	if peerAddr, err = resolve(peerAddr); err != nil {
		return nil, err
	}
	cfg := embed.NewConfig()
	cfg.Dir = dir
	cfg.Name = "devetcd"
	// etcd logs errors only, without stack traces; Close silences the
	// "server closed" errors its own listeners report while stopping.
	level := zap.NewAtomicLevelAt(zapcore.ErrorLevel)
	lcfg := zap.NewProductionConfig()
	lcfg.Level, lcfg.DisableStacktrace, lcfg.Sampling = level, true, nil
	lg, err := lcfg.Build()
	if err != nil {
		return nil, fmt.Errorf("etcd's logger: %w", err)
	}
	cfg.Logger, cfg.ZapLoggerBuilder = "zap", embed.NewZapLoggerBuilder(lg)
	cu, pu := &url.URL{Scheme: "http", Host: clientAddr}, &url.URL{Scheme: "http", Host: peerAddr}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*cu}, []url.URL{*cu}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*pu}, []url.URL{*pu}
	cfg.InitialCluster = cfg.Name + "=" + pu.String()
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("starting etcd: %w", err)
	}
	select {
	case <-e.Server.ReadyNotify():
		return &Server{etcd: e, level: level, Endpoint: clientAddr}, nil
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("etcd failed: %w", err)
	case <-time.After(30 * time.Second):
		e.Close()
		return nil, errors.New("etcd was not ready within 30s")
	}
}

// Close stops etcd quietly.
func (s *Server) Close() {
	s.level.SetLevel(zapcore.FatalLevel)
	s.etcd.Close()
}

// resolve replaces port 0 with a free port, so the address can be given
// to others before etcd listens on it.
func resolve(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("address %q: %w", addr, err)
	}
	if port != "0" {
		return addr, nil
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
