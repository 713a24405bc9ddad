package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"connectrpc.com/connect"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// The gRPC health service's procedures. connectrpc.com/grpchealth is not
// reachable from the module proxy we build with, so the node serves the
// standard grpc.health.v1.Health with the message types of
// google.golang.org/grpc (see docs/decisions/0003-health-service.md).
const (
	healthCheckProcedure = "/grpc.health.v1.Health/Check"
	healthListProcedure  = "/grpc.health.v1.Health/List"
	healthWatchProcedure = "/grpc.health.v1.Health/Watch"
	healthServiceName    = "grpc.health.v1.Health"
)

// Health holds the serving status of the node ("") and of each service.
// It is safe for concurrent use.
type Health struct {
	mu       sync.Mutex
	statuses map[string]healthpb.HealthCheckResponse_ServingStatus
	changed  chan struct{} // closed and replaced on every change
	stopping bool          // Watch streams end once they report this
}

// NewHealth returns a Health in which the node and the named services
// are serving.
func NewHealth(services ...string) *Health {
	h := &Health{statuses: map[string]healthpb.HealthCheckResponse_ServingStatus{}, changed: make(chan struct{})}
	for _, s := range append(services, "") {
		h.statuses[s] = healthpb.HealthCheckResponse_SERVING
	}
	return h
}

// PolicyServicePrefix starts the health service name under which a node
// reports each group's policy: "distcache.policy/<group>" is NOT_SERVING
// while the group's policy plugin has failed and the native LRU serves in
// its place, and SERVING otherwise. The node's own status ("") does not
// follow it: see docs/decisions/0016-policy-scale.md.
const PolicyServicePrefix = "distcache.policy/"

// SetServing sets service's status to SERVING or NOT_SERVING, adding the
// service if it is new, and wakes its watchers. After [Health.Shutdown] it
// does nothing.
func (h *Health) SetServing(service string, serving bool) {
	s := healthpb.HealthCheckResponse_NOT_SERVING
	if serving {
		s = healthpb.HealthCheckResponse_SERVING
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if old, ok := h.statuses[service]; h.stopping || ok && old == s {
		return
	}
	h.statuses[service] = s
	close(h.changed)
	h.changed = make(chan struct{})
}

// Shutdown marks the node and every service NOT_SERVING, so load balancers
// stop sending before the server stops.
func (h *Health) Shutdown() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.statuses {
		h.statuses[s] = healthpb.HealthCheckResponse_NOT_SERVING
	}
	h.stopping = true
	close(h.changed)
	h.changed = make(chan struct{})
}

func (h *Health) status(service string) (healthpb.HealthCheckResponse_ServingStatus, bool, <-chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s, ok := h.statuses[service]
	if h.stopping {
		return s, ok, nil
	}
	return s, ok, h.changed
}

func (h *Health) check(_ context.Context, req *connect.Request[healthpb.HealthCheckRequest]) (*connect.Response[healthpb.HealthCheckResponse], error) {
	s, ok, _ := h.status(req.Msg.GetService())
	if !ok {
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("unknown service %q", req.Msg.GetService()))
	}
	return connect.NewResponse(&healthpb.HealthCheckResponse{Status: s}), nil
}

func (h *Health) list(context.Context, *connect.Request[healthpb.HealthListRequest]) (*connect.Response[healthpb.HealthListResponse], error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	res := &healthpb.HealthListResponse{Statuses: map[string]*healthpb.HealthCheckResponse{}}
	for name, s := range h.statuses {
		res.Statuses[name] = &healthpb.HealthCheckResponse{Status: s}
	}
	return connect.NewResponse(res), nil
}

func (h *Health) watch(ctx context.Context, req *connect.Request[healthpb.HealthCheckRequest], stream *connect.ServerStream[healthpb.HealthCheckResponse]) error {
	last := healthpb.HealthCheckResponse_UNKNOWN
	for {
		s, ok, changed := h.status(req.Msg.GetService())
		if !ok {
			s = healthpb.HealthCheckResponse_SERVICE_UNKNOWN
		}
		if s != last {
			if err := stream.Send(&healthpb.HealthCheckResponse{Status: s}); err != nil {
				return err
			}
			last = s
		}
		if changed == nil {
			return nil // shutting down: let the server finish
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.Canceled) {
				return nil
			}
			return ctx.Err()
		case <-changed:
		}
	}
}

// handler returns the health service's path and handler.
func (h *Health) handler(opts ...connect.HandlerOption) (string, http.Handler) {
	mux := http.NewServeMux()
	mux.Handle(healthCheckProcedure, connect.NewUnaryHandler(healthCheckProcedure, h.check, opts...))
	mux.Handle(healthListProcedure, connect.NewUnaryHandler(healthListProcedure, h.list, opts...))
	mux.Handle(healthWatchProcedure, connect.NewServerStreamHandler(healthWatchProcedure, h.watch, opts...))
	return "/" + healthServiceName + "/", mux
}
