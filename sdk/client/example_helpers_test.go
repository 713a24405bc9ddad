package client_test

import (
	"net"
	"os"

	"github.com/distcache/distcache/server/node"
)

// exampleNode starts a node on a loopback port for an example and
// returns its URL and a func that stops it and removes its files.
func exampleNode() (url string, stop func()) {
	dir, err := os.MkdirTemp("", "distcache-example")
	if err != nil {
		panic(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	n, err := serveNode(node.Config{}, ln, dir)
	if err != nil {
		panic(err)
	}
	return n.url, func() {
		if err := n.Stop(); err != nil {
			panic(err)
		}
		os.RemoveAll(dir)
	}
}
