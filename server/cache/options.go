package cache

import (
	"time"

	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// Option configures how a [Group] is run: its clock, telemetry and
// background work. Options are shared by all groups of a node.
type Option interface {
	apply(*options)
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

type options struct {
	now           func() time.Time
	tracer        trace.TracerProvider
	meter         metric.MeterProvider
	sweepInterval time.Duration
}

func newOptions(opts []Option) options {
	o := options{
		now:           time.Now,
		tracer:        tracenoop.NewTracerProvider(),
		meter:         metricnoop.NewMeterProvider(),
		sweepInterval: time.Second,
	}
	for _, opt := range opts {
		opt.apply(&o)
	}
	return o
}

// WithClock makes the group read the time from now instead of [time.Now].
// Tests use it to expire entries without sleeping.
func WithClock(now func() time.Time) Option {
	return optionFunc(func(o *options) { o.now = now })
}

// WithTracerProvider sets where the group's spans (cache.Get, cache.Load)
// go. The default drops them.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(o *options) { o.tracer = tp })
}

// WithMeterProvider sets where the group's metrics go. The default drops
// them.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(o *options) { o.meter = mp })
}

// WithSweepInterval sets how often expired entries are swept from the
// store (default one second). Zero or less turns the sweeper off; expired
// entries are still never returned.
func WithSweepInterval(d time.Duration) Option {
	return optionFunc(func(o *options) { o.sweepInterval = d })
}
