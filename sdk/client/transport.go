package client

import (
	"crypto/tls"
	"net"
	"net/http"
	"time"
)

// newTransport returns the default transport: HTTP/2 only, without TLS
// (h2c, prior knowledge) for http:// and with TLS for https://, so that
// gRPC works on both and every protocol multiplexes calls on one
// connection per node. Pings find a connection to a vanished node.
func newTransport(cfg *tls.Config) *http.Transport {
	var protocols http.Protocols
	protocols.SetHTTP2(true)
	protocols.SetUnencryptedHTTP2(true)
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		DialContext:         dialer.DialContext,
		TLSHandshakeTimeout: 10 * time.Second,
		MaxIdleConnsPerHost: 8,
		IdleConnTimeout:     90 * time.Second,
		Protocols:           &protocols,
		HTTP2: &http.HTTP2Config{
			SendPingTimeout: 30 * time.Second,
			PingTimeout:     10 * time.Second,
		},
	}
	if cfg != nil {
		tr.TLSClientConfig = cfg.Clone()
	}
	return tr
}
