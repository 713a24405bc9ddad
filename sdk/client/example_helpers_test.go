package client_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

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

// exampleCluster starts a cluster of n nodes on loopback ports that know
// each other through a static peer list, and returns the URL of each and
// a func that stops them all and removes their files.
func exampleCluster(n int) (urls []string, stop func()) {
	dir, err := os.MkdirTemp("", "distcache-example")
	if err != nil {
		panic(err)
	}
	lns := make([]net.Listener, n)
	var peers []string
	for i := range lns {
		if lns[i], err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			panic(err)
		}
		peers = append(peers, fmt.Sprintf("n%d=%s", i, lns[i].Addr()))
	}
	var nodes []*testNode
	for i, ln := range lns {
		cfg := node.Config{DBPath: filepath.Join(dir, "shared.db")}
		cfg.Cluster.NodeID, cfg.Cluster.Advertise, cfg.Cluster.Peers = fmt.Sprintf("n%d", i), ln.Addr().String(), peers
		cfg.Cluster.Secret = "example-cluster-secret"
		cfg.Cluster.SharedDB = true
		nd, err := serveNode(cfg, ln, filepath.Join(dir, cfg.Cluster.NodeID))
		if err != nil {
			panic(err)
		}
		nodes = append(nodes, nd)
		urls = append(urls, nd.url)
	}
	for _, nd := range nodes {
		for nd.Picker().Ring().Len() != n {
			time.Sleep(5 * time.Millisecond)
		}
	}
	return urls, func() {
		for _, nd := range nodes {
			if err := nd.Stop(); err != nil {
				panic(err)
			}
		}
		os.RemoveAll(dir)
	}
}
