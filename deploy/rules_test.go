package deploy

import (
	"os/exec"
	"testing"
)

const installPromtool = "apt-get install -y prometheus"

// TestAlertRules checks prometheus/alerts.yml with promtool and runs its
// unit tests, prometheus/alerts_test.yml.
func TestAlertRules(t *testing.T) {
	promtool := requireTool(t, "promtool", installPromtool)
	for _, args := range [][]string{
		{"check", "rules", "prometheus/alerts.yml"},
		{"check", "config", "--syntax-only", "prometheus/prometheus.yml"},
		{"test", "rules", "prometheus/alerts_test.yml"},
	} {
		out, err := exec.Command(promtool, args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %v: %v\n%s", args, err, out)
		}
	}
}
