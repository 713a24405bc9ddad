// Package telemetry builds a node's OpenTelemetry tracer and meter
// providers from the standard OTEL_* environment and exports metrics in
// Prometheus text format.
//
// Traces go to OTLP when OTEL_EXPORTER_OTLP_ENDPOINT (or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set — over gRPC when
// OTEL_EXPORTER_OTLP_PROTOCOL (or ..._TRACES_PROTOCOL) is "grpc", else
// over HTTP/protobuf — to a writer when [Config.TraceWriter] is set (the
// node's --trace-stdout flag), and nowhere otherwise. Sampling follows
// OTEL_TRACES_SAMPLER; resource attributes follow OTEL_SERVICE_NAME and
// OTEL_RESOURCE_ATTRIBUTES.
package telemetry

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"

	promclient "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// Config says where telemetry goes besides what the environment says.
type Config struct {
	// ServiceName is the default service.name (OTEL_SERVICE_NAME wins);
	// empty means "distcache".
	ServiceName string
	// TraceWriter, when set, receives every span as JSON (--trace-stdout).
	TraceWriter io.Writer
	// Getenv reads the environment (default [os.Getenv]); tests set it.
	Getenv func(string) string
}

// Telemetry holds a node's providers. Use [New]; call Shutdown to flush.
type Telemetry struct {
	// TracerProvider makes the node's spans. It is a no-op when no
	// exporter is configured.
	TracerProvider trace.TracerProvider
	// MeterProvider makes the node's metrics, read by Metrics.
	MeterProvider metric.MeterProvider
	// Propagator carries W3C trace context and baggage across calls.
	Propagator propagation.TextMapPropagator
	// Metrics serves every metric in Prometheus text format.
	Metrics http.Handler
	// Exporter names where traces go: "otlp/grpc", "otlp/http", "writer"
	// or "none".
	Exporter string

	shutdown []func(context.Context) error
}

// New builds the providers. It returns an error only for a configuration
// that cannot work, such as a malformed OTLP endpoint.
func New(ctx context.Context, cfg Config) (*Telemetry, error) {
	if cfg.Getenv == nil {
		cfg.Getenv = os.Getenv
	}
	if cfg.ServiceName == "" {
		cfg.ServiceName = "distcache"
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", cfg.ServiceName)),
		resource.WithFromEnv(), resource.WithTelemetrySDK())
	if err != nil {
		return nil, err
	}
	t := &Telemetry{Propagator: propagation.NewCompositeTextMapPropagator(
		propagation.TraceContext{}, propagation.Baggage{})}
	if err := t.setupTraces(ctx, cfg, res); err != nil {
		return nil, err
	}
	if err := t.setupMetrics(res); err != nil {
		return nil, errors.Join(err, t.Shutdown(ctx))
	}
	return t, nil
}

func (t *Telemetry) setupTraces(ctx context.Context, cfg Config, res *resource.Resource) error {
	exp, name, err := spanExporter(ctx, cfg)
	if err != nil {
		return err
	}
	t.Exporter = name
	if exp == nil {
		t.TracerProvider = tracenoop.NewTracerProvider()
		return nil
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	t.TracerProvider = tp
	t.shutdown = append(t.shutdown, tp.Shutdown)
	return nil
}

func spanExporter(ctx context.Context, cfg Config) (sdktrace.SpanExporter, string, error) {
	env := func(names ...string) string {
		for _, n := range names {
			if v := cfg.Getenv(n); v != "" {
				return v
			}
		}
		return ""
	}
	switch {
	case cfg.TraceWriter != nil:
		exp, err := stdouttrace.New(stdouttrace.WithWriter(cfg.TraceWriter))
		return exp, "writer", err
	case env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT") == "":
		return nil, "none", nil
	case env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL") == "grpc":
		exp, err := otlptracegrpc.New(ctx)
		return exp, "otlp/grpc", err
	default:
		exp, err := otlptracehttp.New(ctx)
		return exp, "otlp/http", err
	}
}

func (t *Telemetry) setupMetrics(res *resource.Resource) error {
	reg := promclient.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	exp, err := prometheus.New(prometheus.WithRegisterer(reg))
	if err != nil {
		return err
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp), sdkmetric.WithResource(res))
	t.MeterProvider = mp
	t.Metrics = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	t.shutdown = append(t.shutdown, mp.Shutdown)
	return nil
}

// Shutdown flushes and stops the providers.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	var errs []error
	for _, fn := range t.shutdown {
		errs = append(errs, fn(ctx))
	}
	return errors.Join(errs...)
}
