package api

import (
	"net/http"
	"strings"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// ReadyFunc reports what keeps a node from being ready, if anything: one
// short reason per missing condition ("plugins compiling", "not in the
// ring"). None means ready.
type ReadyFunc func() []string

// Probes answer plain HTTP health checks for operators and load
// balancers:
//
//   - GET /healthz (liveness): 200 "ok" as long as the process serves
//     HTTP.
//   - GET /readyz (readiness): 200 "ready", or 503 with one line per reason
//     when the node is shutting down (its health is NOT_SERVING, the first
//     thing a shutdown does) or ready reports reasons.
//
// Neither takes a body, a token or CORS: they say nothing about the data.
func probes(mux *http.ServeMux, h *Health, ready ReadyFunc) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		var reasons []string
		if s, _, _ := h.status(""); s != healthpb.HealthCheckResponse_SERVING {
			reasons = append(reasons, "shutting down")
		} else if ready != nil {
			reasons = ready()
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if len(reasons) > 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("not ready: " + strings.Join(reasons, "; ") + "\n"))
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
}
