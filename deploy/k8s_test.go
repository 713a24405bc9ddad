package deploy

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

// manifests are the objects of k8s/*.yaml, each decoded strictly into its
// Kubernetes API type.
type manifests struct {
	statefulSets map[string]*appsv1.StatefulSet
	services     map[string]*corev1.Service
	configMaps   map[string]*corev1.ConfigMap
	pdbs         map[string]*policyv1.PodDisruptionBudget
}

var docSeparator = regexp.MustCompile(`(?m)^---\s*$`)

// decodeManifests reads every k8s/*.yaml document and decodes it with
// sigs.k8s.io/yaml's UnmarshalStrict (unknown or duplicate fields fail)
// into the API type its apiVersion and kind name; any other kind fails.
func decodeManifests(t *testing.T) manifests {
	t.Helper()
	m := manifests{map[string]*appsv1.StatefulSet{}, map[string]*corev1.Service{}, map[string]*corev1.ConfigMap{}, map[string]*policyv1.PodDisruptionBudget{}}
	files, err := filepath.Glob("k8s/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no k8s/*.yaml: %v", err)
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range docSeparator.Split(string(b), -1) {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			var u unstructured.Unstructured
			if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
				t.Fatalf("%s document %d: %v", file, i+1, err)
			}
			where := fmt.Sprintf("%s: %s %s", file, u.GetKind(), u.GetName())
			if u.GetNamespace() != "" {
				t.Errorf("%s: names namespace %q; the manifests are namespace-agnostic", where, u.GetNamespace())
			}
			var obj any
			switch u.GetAPIVersion() + " " + u.GetKind() {
			case "apps/v1 StatefulSet":
				s := &appsv1.StatefulSet{}
				m.statefulSets[u.GetName()], obj = s, s
			case "v1 Service":
				s := &corev1.Service{}
				m.services[u.GetName()], obj = s, s
			case "v1 ConfigMap":
				c := &corev1.ConfigMap{}
				m.configMaps[u.GetName()], obj = c, c
			case "policy/v1 PodDisruptionBudget":
				p := &policyv1.PodDisruptionBudget{}
				m.pdbs[u.GetName()], obj = p, p
			default:
				t.Fatalf("%s: apiVersion %s kind %s: the test knows no such type", where, u.GetAPIVersion(), u.GetKind())
			}
			if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
				t.Errorf("%s: %v", where, err)
			}
		}
	}
	return m
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// TestKubernetesManifests decodes the manifests strictly and checks that
// they fit the node: real flags, probes on the node's port, stable names
// for --advertise, a grace period longer than the drain, a PDB and
// Services that select the pods, and a groups file a clustered node takes.
func TestKubernetesManifests(t *testing.T) {
	m := decodeManifests(t)
	flags := nodeFlags(t)
	ss := m.statefulSets["distcache"]
	if ss == nil {
		t.Fatal("no StatefulSet distcache in k8s/")
	}
	if r := ss.Spec.Replicas; r == nil || *r != 3 {
		t.Errorf("StatefulSet distcache: replicas %v, want 3", r)
	}
	if ss.Spec.PodManagementPolicy != appsv1.ParallelPodManagement {
		t.Errorf("StatefulSet distcache: podManagementPolicy %q, want Parallel", ss.Spec.PodManagementPolicy)
	}
	podLabels := labels.Set(ss.Spec.Template.Labels)
	if sel := ss.Spec.Selector; sel == nil || !labels.SelectorFromSet(sel.MatchLabels).Matches(podLabels) {
		t.Errorf("StatefulSet distcache: its selector does not match its pod template's labels")
	}

	headless := m.services[ss.Spec.ServiceName]
	switch {
	case headless == nil:
		t.Errorf("StatefulSet distcache: serviceName %q names no Service in k8s/", ss.Spec.ServiceName)
	case headless.Spec.ClusterIP != corev1.ClusterIPNone:
		t.Errorf("Service %s: clusterIP %q, want None (headless)", headless.Name, headless.Spec.ClusterIP)
	case !headless.Spec.PublishNotReadyAddresses:
		t.Errorf("Service %s: publishNotReadyAddresses is false; peers could not resolve a node that is not yet in the ring", headless.Name)
	}
	clients := 0
	for name, svc := range m.services {
		if labels.SelectorFromSet(svc.Spec.Selector).Matches(podLabels) && svc.Spec.ClusterIP != corev1.ClusterIPNone {
			clients++
		}
		for _, p := range svc.Spec.Ports {
			if name != "etcd" && p.TargetPort.String() != "http" {
				t.Errorf("Service %s: targetPort %s, want the container's port \"http\"", name, p.TargetPort.String())
			}
		}
	}
	if clients == 0 {
		t.Error("no Service with a cluster IP selects the distcache pods: clients have nothing to call")
	}

	pod := ss.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("StatefulSet distcache: %d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	var env []string
	for _, e := range c.Env {
		env = append(env, e.Name)
		if ref := e.ValueFrom; ref != nil && ref.ConfigMapKeyRef != nil {
			cm := m.configMaps[ref.ConfigMapKeyRef.Name]
			if cm == nil || cm.Data[ref.ConfigMapKeyRef.Key] == "" {
				t.Errorf("env %s: ConfigMap %s has no key %s in k8s/", e.Name, ref.ConfigMapKeyRef.Name, ref.ConfigMapKeyRef.Key)
			}
		}
	}
	checkArgs(t, flags, "StatefulSet distcache", c.Args, env)
	for _, want := range []string{"DISTCACHE_ETCD", "DISTCACHE_CLUSTER_SECRET", "POD_NAME"} {
		if !strings.Contains(strings.Join(env, " "), want) {
			t.Errorf("StatefulSet distcache: no env %s", want)
		}
	}
	args := argValues(c.Args)
	wantAdvertise := "$(POD_NAME)." + ss.Spec.ServiceName + "."
	if a := args["advertise"]; !strings.HasPrefix(a, wantAdvertise) || !strings.HasSuffix(a, ":8080") {
		t.Errorf("--advertise=%q, want %s...:8080, the pod's stable name under the headless Service", a, wantAdvertise)
	}
	if args["node-id"] != "$(POD_NAME)" {
		t.Errorf("--node-id=%q, want $(POD_NAME)", args["node-id"])
	}

	port := int32(0)
	for _, p := range c.Ports {
		if p.Name == "http" {
			port = p.ContainerPort
		}
	}
	if port != 8080 {
		t.Errorf("container port http is %d, want 8080 (the image's --addr :8080)", port)
	}
	checkProbe(t, "readinessProbe", c.ReadinessProbe, "/readyz", c.Ports)
	checkProbe(t, "livenessProbe", c.LivenessProbe, "/healthz", c.Ports)

	drain := flagDuration(t, args, "shutdown-delay", 5*time.Second) + flagDuration(t, args, "shutdown-grace", 10*time.Second)
	if g := pod.TerminationGracePeriodSeconds; g == nil || time.Duration(*g)*time.Second <= drain {
		t.Errorf("terminationGracePeriodSeconds %v is not more than --shutdown-delay + --shutdown-grace (%v)", g, drain)
	}

	sc := c.SecurityContext
	if psc := pod.SecurityContext; psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
		t.Error("pod securityContext: runAsNonRoot is not true")
	}
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Error("container securityContext: readOnlyRootFilesystem is not true")
	}
	mounts := map[string]bool{}
	for _, vm := range c.VolumeMounts {
		mounts[vm.MountPath] = true
	}
	if !mounts["/data"] {
		t.Error("nothing is mounted at /data, where the image keeps the database and the plugin cache, on a read-only root filesystem")
	}
	if c.Resources.Limits.Memory().IsZero() {
		t.Error("container has no memory limit")
	}

	pdb := m.pdbs["distcache"]
	if pdb == nil {
		t.Fatal("no PodDisruptionBudget distcache in k8s/")
	}
	if mu := pdb.Spec.MaxUnavailable; mu == nil || mu.String() != "1" {
		t.Errorf("PodDisruptionBudget: maxUnavailable %v, want 1", mu)
	}
	if sel := pdb.Spec.Selector; sel == nil || !labels.SelectorFromSet(sel.MatchLabels).Matches(podLabels) {
		t.Error("PodDisruptionBudget: its selector does not match the distcache pods")
	}

	// The groups file the pods mount is one a clustered node accepts.
	for _, v := range pod.Volumes {
		if v.ConfigMap == nil {
			continue
		}
		cm := m.configMaps[v.ConfigMap.Name]
		if cm == nil {
			t.Fatalf("volume %s: ConfigMap %s is not in k8s/", v.Name, v.ConfigMap.Name)
		}
		for _, item := range v.ConfigMap.Items {
			checkClusteredConfig(t, "ConfigMap "+cm.Name+" key "+item.Key, cm.Data[item.Key])
		}
	}
}

func checkProbe(t *testing.T, name string, p *corev1.Probe, path string, ports []corev1.ContainerPort) {
	t.Helper()
	if p == nil || p.HTTPGet == nil {
		t.Errorf("%s: not an httpGet probe", name)
		return
	}
	if p.HTTPGet.Path != path {
		t.Errorf("%s: path %q, want %q", name, p.HTTPGet.Path, path)
	}
	found := false
	for _, cp := range ports {
		if p.HTTPGet.Port.String() == cp.Name || p.HTTPGet.Port.IntValue() == int(cp.ContainerPort) {
			found = cp.ContainerPort == 8080
		}
	}
	if !found {
		t.Errorf("%s: port %s is not the container's port 8080", name, p.HTTPGet.Port.String())
	}
}

// argValues maps each --flag=value of args to its value.
func argValues(args []string) map[string]string {
	v := map[string]string{}
	for _, a := range args {
		name, value, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		v[name] = value
	}
	return v
}

func flagDuration(t *testing.T, args map[string]string, name string, def time.Duration) time.Duration {
	t.Helper()
	s, ok := args[name]
	if !ok {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Errorf("--%s=%s: %v", name, s, err)
	}
	return d
}

// checkClusteredConfig starts a node in a (one-member, static) cluster
// with groups as its groups file: a clustered node refuses a write-through
// group without --shared-db, which pods and containers cannot share.
func checkClusteredConfig(t *testing.T, where, groups string) {
	t.Helper()
	dir := t.TempDir()
	config := filepath.Join(dir, "groups.yaml")
	must(t, os.WriteFile(config, []byte(groups), 0o644))
	addr := freeAddr(t)
	cmd := exec.Command(nodeBinary(t), "--addr", addr, "--db", filepath.Join(dir, "node.db"), "--config", config,
		"--plugins", filepath.Join(dir, "plugins"), "--plugin-cache", "", "--shutdown-delay", "0s",
		"--node-id", "n1", "--peers", "n1="+addr, "--cluster-secret", "deploy-test-secret")
	logs := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	must(t, cmd.Start())
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	defer func() {
		cmd.Process.Kill()
		<-exited
	}()
	deadline := time.After(30 * time.Second)
	for !strings.Contains(logs.String(), "msg=serving") {
		select {
		case <-exited:
			t.Errorf("%s: a clustered node refused it:\n%s", where, logs.String())
			return
		case <-deadline:
			t.Errorf("%s: a clustered node did not start serving with it in 30s:\n%s", where, logs.String())
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// lockedBuffer is a bytes.Buffer a child process writes while the test
// reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
