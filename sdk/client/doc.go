// Package client is the Go client of distcache for services: Get, Set and
// Delete on a cluster of nodes, with round-robin load spreading, optional
// owner-aware routing, per-attempt timeouts, and retries that skip an
// unreachable node and eject one that stops answering.
//
// # Connecting
//
// [New] takes the base URLs of one or more nodes. Any node answers for
// any key (a node that does not own a key forwards the call), so the
// client needs no view of the ring: it starts each call at the next
// endpoint in turn (skipping ejected ones, see below) and, on a retryable
// error, waits a jittered back-off and tries the following one.
//
//	c, err := client.New([]string{"http://10.0.0.1:8080", "http://10.0.0.2:8080"})
//	if err != nil {
//		return err
//	}
//	defer c.Close()
//	v, err := c.GetString(ctx, "default", "hello")
//
// [WithOwnerRouting] saves the forwarding hop: the client learns the
// membership from ClusterService, places keys on the ring exactly as the
// nodes do, and sends each Get, Set and Delete to the key's owner first,
// falling back to the endpoints round robin when the owner is down or
// ejected.
//
// # Timeouts and hung nodes
//
// Each attempt of a call is bounded by [WithAttemptTimeout] (default 1s)
// on top of the caller's context, which bounds the whole call. A node
// that stops answering (frozen, partitioned, its connection gone) is
// found by an attempt that times out or fails to connect: the call goes
// on to another endpoint, and the node is ejected, passed over by every
// call, until a probe (ClusterService/ListMembers, sent at once and then
// every 250ms) gets an answer from it. So with one node of three hung,
// only the calls already waiting on it when it hung wait an attempt
// timeout; a call waits at most two attempt timeouts (a call ends after
// its second timed-out attempt) plus its back-offs. [Client.Close] stops
// the probes.
//
// By default the client speaks gRPC over HTTP/2 (h2c for http://, TLS for
// https://); [WithProtocol] switches to the Connect or gRPC-Web protocol.
//
// # The cluster and the node
//
// [Client.Members] and [Client.Owner] say who is in the cluster and who
// owns a key; [Client.Stats], [Client.Plugins] and [Client.SetGroupPolicy]
// report on and manage the node a call reaches (SetGroupPolicy needs
// [WithAdminToken]); [Client.SetGroupPolicyAll] switches a group on every
// member through that node. The `distcache` command line client is built
// on them.
//
// # Errors
//
// A missing key or group is [ErrNotFound]. Every error the server returns,
// that one included, keeps its *connect.Error, so
// [connectrpc.com/connect.CodeOf] tells InvalidArgument from Unavailable. [IsRetryable] says which errors
// the client retries: Get, Set and Delete are idempotent, so all three
// are retried.
package client
