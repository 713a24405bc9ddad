package cache

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// groupMetrics exports a group's counters as OTel instruments. Counters
// are observed from [Group.Stats] at collection time, so the hit path pays
// nothing for them; only the load duration is recorded as it happens.
type groupMetrics struct {
	attrs        metric.MeasurementOption
	loadDuration metric.Float64Histogram
	reg          metric.Registration
}

func newGroupMetrics(mp metric.MeterProvider, g *Group) (*groupMetrics, error) {
	m := mp.Meter("github.com/distcache/distcache/server/cache")
	gm := &groupMetrics{attrs: metric.WithAttributes(attribute.String("group", g.cfg.Name))}
	var err error
	gm.loadDuration, err = m.Float64Histogram("distcache.load.duration",
		metric.WithUnit("s"), metric.WithDescription("Duration of loader calls."),
		metric.WithExplicitBucketBoundaries(.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))
	if err != nil {
		return nil, err
	}
	counters := []struct {
		name, desc string
		get        func(Stats) int64
	}{
		{"distcache.hits", "Gets answered from the store.", func(s Stats) int64 { return s.Hits }},
		{"distcache.misses", "Gets not in the store.", func(s Stats) int64 { return s.Misses }},
		{"distcache.loads", "Loader calls.", func(s Stats) int64 { return s.Loads }},
		{"distcache.load.errors", "Loader calls that failed.", func(s Stats) int64 { return s.LoadErrors }},
		{"distcache.negative.hits", "Gets answered by a remembered not-found.", func(s Stats) int64 { return s.NegativeHits }},
		{"distcache.evictions", "Entries evicted to make room.", func(s Stats) int64 { return s.Evictions }},
		{"distcache.expirations", "Entries removed when their ttl ran out.", func(s Stats) int64 { return s.Expirations }},
		{"distcache.policy.fallbacks", "Evictions made because the policy named no resident entry.", func(s Stats) int64 { return s.Fallbacks }},
		{"distcache.hot.hits", "Gets answered from hot copies of other nodes' keys.", func(s Stats) int64 { return s.HotHits }},
		{"distcache.peer.fetches", "Misses sent to the key's owner.", func(s Stats) int64 { return s.PeerFetches }},
		{"distcache.peer.errors", "Calls to other nodes that could not be reached.", func(s Stats) int64 { return s.PeerErrors }},
		{"distcache.repairs", "Owner reads that found a newer version on another replica.", func(s Stats) int64 { return s.Repairs }},
		{"distcache.handoffs", "Written records sent to other nodes after ring changes.", func(s Stats) int64 { return s.Handoffs }},
		{"distcache.dropped", "Entries dropped after ring changes.", func(s Stats) int64 { return s.Dropped }},
	}
	gauges := []struct {
		name, desc, unit string
		get              func(Stats) int64
	}{
		{"distcache.items", "Entries held.", "{entry}", func(s Stats) int64 { return s.Items }},
		{"distcache.bytes", "Bytes held.", "By", func(s Stats) int64 { return s.Bytes }},
		{"distcache.capacity", "Most bytes the group may hold.", "By", func(s Stats) int64 { return s.Capacity }},
	}
	type observed struct {
		inst metric.Int64Observable
		get  func(Stats) int64
	}
	var obs []observed
	var insts []metric.Observable
	for _, c := range counters {
		inst, err := m.Int64ObservableCounter(c.name, metric.WithDescription(c.desc))
		if err != nil {
			return nil, err
		}
		obs = append(obs, observed{inst, c.get})
		insts = append(insts, inst)
	}
	for _, c := range gauges {
		inst, err := m.Int64ObservableGauge(c.name, metric.WithDescription(c.desc), metric.WithUnit(c.unit))
		if err != nil {
			return nil, err
		}
		obs = append(obs, observed{inst, c.get})
		insts = append(insts, inst)
	}
	gm.reg, err = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		s := g.Stats()
		for _, ob := range obs {
			o.ObserveInt64(ob.inst, ob.get(s), gm.attrs)
		}
		return nil
	}, insts...)
	if err != nil {
		return nil, err
	}
	return gm, nil
}

func (m *groupMetrics) recordLoad(ctx context.Context, d time.Duration, err error) {
	result := "ok"
	switch {
	case errors.Is(err, ErrNotFound):
		result = "not_found"
	case err != nil:
		result = "error"
	}
	m.loadDuration.Record(ctx, d.Seconds(), m.attrs,
		metric.WithAttributes(attribute.String("result", result)))
}

func (m *groupMetrics) close() error { return m.reg.Unregister() }
