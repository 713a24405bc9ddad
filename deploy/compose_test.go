package deploy

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// composeFile is the part of the Compose specification compose.yaml uses;
// UnmarshalStrict refuses any other field, so a field added to the file
// must be added here, where someone reads what it means.
type composeFile struct {
	Name     string                    `json:"name"`
	XNode    map[string]any            `json:"x-node"` // the node's common fields, merged into node1-3
	Services map[string]composeService `json:"services"`
	Volumes  map[string]*struct{}      `json:"volumes"`
}

type composeService struct {
	Build *struct {
		Context    string `json:"context"`
		Dockerfile string `json:"dockerfile"`
	} `json:"build"`
	Image       string            `json:"image"`
	Command     []string          `json:"command"`
	Environment map[string]string `json:"environment"`
	Volumes     []string          `json:"volumes"`
	Ports       []string          `json:"ports"`
	DependsOn   []string          `json:"depends_on"`
	Restart     string            `json:"restart"`
}

// prometheusConfig is the part of prometheus/prometheus.yml the test reads.
type prometheusConfig struct {
	ScrapeConfigs []struct {
		JobName       string `json:"job_name"`
		StaticConfigs []struct {
			Targets []string `json:"targets"`
		} `json:"static_configs"`
	} `json:"scrape_configs"`
}

// TestCompose decodes compose.yaml strictly and checks that its nodes run
// with real flags, advertise their service names, that every file it
// mounts exists, and that Prometheus scrapes every node as job distcache
// (the job the alert rules select).
func TestCompose(t *testing.T) {
	b, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.UnmarshalStrict(b, &c); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	flags := nodeFlags(t)
	var nodes []string
	for name, s := range c.Services {
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if strings.HasPrefix(src, ".") {
				if _, err := os.Stat(src); err != nil {
					t.Errorf("service %s mounts %s: %v", name, src, err)
				}
			} else if _, ok := c.Volumes[src]; !ok {
				t.Errorf("service %s mounts volume %s, which volumes: does not declare", name, src)
			}
		}
		for _, d := range s.DependsOn {
			if _, ok := c.Services[d]; !ok {
				t.Errorf("service %s depends on %s, which is no service", name, d)
			}
		}
		if s.Build == nil {
			continue
		}
		nodes = append(nodes, name)
		if _, err := os.Stat(filepath.Join(s.Build.Context, s.Build.Dockerfile)); err != nil {
			t.Errorf("service %s builds %s: %v", name, s.Build.Dockerfile, err)
		}
		var env []string
		for k := range s.Environment {
			env = append(env, k)
		}
		checkArgs(t, flags, "compose.yaml service "+name, s.Command, env)
		args := map[string]string{}
		for i := 0; i+1 < len(s.Command); i += 2 {
			args[strings.TrimLeft(s.Command[i], "-")] = s.Command[i+1]
		}
		if args["advertise"] != name+":8080" {
			t.Errorf("service %s: --advertise %q, want %s:8080", name, args["advertise"], name)
		}
		for _, want := range []string{"DISTCACHE_ETCD", "DISTCACHE_CLUSTER_SECRET", "DISTCACHE_CONFIG"} {
			if s.Environment[want] == "" {
				t.Errorf("service %s: no %s", name, want)
			}
		}
	}
	slices.Sort(nodes)
	if len(nodes) != 3 {
		t.Errorf("compose.yaml builds %d node services %v, want 3", len(nodes), nodes)
	}
	for _, want := range []string{"etcd", "prometheus", "grafana"} {
		if _, ok := c.Services[want]; !ok {
			t.Errorf("compose.yaml has no service %s", want)
		}
	}

	b, err = os.ReadFile("prometheus/prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	var p prometheusConfig
	if err := yaml.Unmarshal(b, &p); err != nil {
		t.Fatalf("prometheus/prometheus.yml: %v", err)
	}
	var targets []string
	for _, sc := range p.ScrapeConfigs {
		if sc.JobName != "distcache" {
			continue
		}
		for _, st := range sc.StaticConfigs {
			targets = append(targets, st.Targets...)
		}
	}
	slices.Sort(targets)
	var want []string
	for _, n := range nodes {
		want = append(want, n+":8080")
	}
	if !slices.Equal(targets, want) {
		t.Errorf("prometheus.yml job distcache scrapes %v, want the compose nodes %v", targets, want)
	}
}
