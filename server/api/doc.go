// Package api serves a node's Connect API: the CacheService and
// AdminService handlers, the gRPC health service, gRPC reflection, CORS,
// /metrics, and the HTTP server that speaks HTTP/1.1 and h2c on one port,
// so gRPC, gRPC-Web (binary and text mode) and Connect (JSON and binary)
// clients all reach the same handlers.
//
// Cross-cutting concerns are interceptors: tracing (otelconnect), request
// validation (protovalidate) and the admin token. Errors from the cache
// become Connect codes here, at the edge, and nowhere else.
package api
