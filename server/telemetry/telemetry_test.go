package telemetry

import (
	"bytes"
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/metric"
)

func TestTraceExporterFromEnvironment(t *testing.T) {
	for _, tc := range []struct {
		name   string
		env    map[string]string
		writer io.Writer
		want   string
	}{
		{"nothing set is off", nil, nil, "none"},
		{"endpoint means OTLP over HTTP", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, nil, "otlp/http"},
		{"traces endpoint counts too", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, nil, "otlp/http"},
		{"grpc protocol", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, nil, "otlp/grpc"},
		{"writer wins", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, &bytes.Buffer{}, "writer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tel, err := New(context.Background(), Config{TraceWriter: tc.writer, Getenv: func(k string) string { return tc.env[k] }})
			if err != nil {
				t.Fatal(err)
			}
			defer tel.Shutdown(context.Background())
			if tel.Exporter != tc.want {
				t.Fatalf("exporter = %q, want %q", tel.Exporter, tc.want)
			}
		})
	}
}

func TestStdoutSpans(t *testing.T) {
	var buf bytes.Buffer
	tel, err := New(context.Background(), Config{TraceWriter: &buf, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	_, span := tel.TracerProvider.Tracer("test").Start(context.Background(), "hello-span")
	span.End()
	if err := tel.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"Name":"hello-span"`) || !strings.Contains(buf.String(), `"distcache"`) {
		t.Fatalf("stdout exporter wrote %q, want the span with service distcache", buf.String())
	}
}

func TestPrometheusMetrics(t *testing.T) {
	tel, err := New(context.Background(), Config{Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	c, err := tel.MeterProvider.Meter("test").Int64Counter("distcache.test.things")
	if err != nil {
		t.Fatal(err)
	}
	c.Add(context.Background(), 7, metric.WithAttributes())
	rec := httptest.NewRecorder()
	tel.Metrics.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{"distcache_test_things_total", "} 7", "go_goroutines", `service_name="distcache"`} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
