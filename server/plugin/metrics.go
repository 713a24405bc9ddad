package plugin

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/tetratelabs/wazero/sys"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// metrics counts what happens to plugins.
type metrics struct {
	failures  metric.Int64Counter
	loads     metric.Int64Counter
	fallbacks metric.Int64Counter
}

func newMetrics(mp metric.MeterProvider, r *Runtime) (*metrics, error) {
	m := mp.Meter("github.com/distcache/distcache/server/plugin")
	var met metrics
	var err1, err2, err3, err4, err5 error
	met.failures, err1 = m.Int64Counter("distcache.plugin.failures",
		metric.WithDescription("Plugin modules refused and instances discarded, by plugin and reason."))
	met.loads, err2 = m.Int64Counter("distcache.plugin.loads",
		metric.WithDescription("Plugin modules compiled, validated and swapped in, by plugin."))
	met.fallbacks, err3 = m.Int64Counter("distcache.policy.fallbacks.native",
		metric.WithDescription("Times a group fell back to the native LRU, by group and reason."))
	_, err4 = m.Int64ObservableGauge("distcache.plugin.modules.live",
		metric.WithDescription("Compiled plugin modules not yet released, replaced versions still serving a call included."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(r.liveModules.Load())
			return nil
		}))
	_, err5 = m.Int64ObservableGauge("distcache.plugin.instances.live",
		metric.WithDescription("Plugin instances not yet closed."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(r.liveInstances.Load())
			return nil
		}))
	_, err6 := m.Int64ObservableGauge("distcache.policy.failed",
		metric.WithDescription("1 for each group whose policy plugin instance failed (out of memory, trap, deadline) and is served by the native LRU until the plugin is reloaded or the group given a policy again, by group and plugin."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			r.failedGroups.Range(func(group, plugin any) bool {
				o.Observe(1, metric.WithAttributes(
					attribute.String("group", group.(string)), attribute.String("plugin", plugin.(string))))
				return true
			})
			return nil
		}))
	return &met, errors.Join(err1, err2, err3, err4, err5, err6)
}

// The reasons a failure is counted under.
const (
	reasonInvalid  = "invalid"  // not wasm, bad exports/imports, wrong ABI
	reasonTrap     = "trap"     // the guest trapped (includes out of memory)
	reasonDeadline = "deadline" // a call ran past its deadline
	reasonRead     = "read"     // the file could not be read
	reasonFile     = "file"     // not a regular file, or over the size limit
	reasonBadCall  = "bad_call" // a call returned something invalid
)

// reasonOf classifies an error from a guest call.
func reasonOf(err error) string {
	var exit *sys.ExitError
	switch {
	case errors.Is(err, context.DeadlineExceeded),
		// A guest call is cancelled only when it ran past its deadline: by
		// the watchdog (policies) or the load timeout (loaders).
		errors.As(err, &exit) && (exit.ExitCode() == sys.ExitCodeDeadlineExceeded ||
			exit.ExitCode() == sys.ExitCodeContextCanceled):
		return reasonDeadline
	case strings.Contains(err.Error(), "victims, want"):
		return reasonBadCall
	default:
		return reasonTrap
	}
}

// failure logs, counts and records a refused module or a discarded
// instance: one record at ERROR with the plugin, its file, the group (for
// an instance of one), the reason and the error, and the guest's panic
// message and stack when it printed a crash report ([GuestPanic]).
func (r *Runtime) failure(plugin, file, group, reason string, err error) {
	attrs := []any{"plugin", plugin, "file", file}
	if group != "" {
		attrs = append(attrs, "group", group)
	}
	attrs = append(attrs, "reason", reason, "err", err)
	r.log.Error("plugin failed", append(attrs, panicAttrs(err)...)...)
	r.countFailure(plugin, reason)
	r.failures.record(plugin, Failure{Reason: reason, Err: err, At: time.Now(), Group: group})
}

// countFailure counts a failure whose log line names more than the
// plugin (a policy instance's names its group too); that line's caller
// records it with failures.record.
func (r *Runtime) countFailure(plugin, reason string) {
	r.metrics.failures.Add(context.Background(), 1, metric.WithAttributes(
		attribute.String("plugin", plugin), attribute.String("reason", reason)))
}
