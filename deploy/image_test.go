package deploy

import (
	"debug/elf"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// staticBuild is the build command of the Dockerfile that nodeBinary
// repeats on the host.
const staticBuild = "CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/distcache ./server"

// TestStaticBinary checks what the Dockerfile's build stage makes, without
// a container: the same build on the host links statically (no ELF
// interpreter, no shared libraries, so it runs on a distroless static
// base) and the binary runs.
func TestStaticBinary(t *testing.T) {
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), staticBuild) {
		t.Fatalf("the Dockerfile no longer builds with %q; update nodeBinary and this test", staticBuild)
	}
	bin := nodeBinary(t)
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the node binary has an ELF interpreter: it is dynamically linked")
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
		t.Errorf("the node binary needs shared libraries %v (%v)", libs, err)
	}
	if out, err := exec.Command(bin, "--help").CombinedOutput(); err != nil {
		t.Errorf("distcache --help: %v\n%s", err, out)
	}
}

var fromLine = regexp.MustCompile(`(?m)^FROM\s+(\S+)`)

// podman finds podman and checks that it can work here; it skips saying
// why when it cannot (a sandbox without the kernel features it needs):
// never a failure of the project.
func podman(t *testing.T) string {
	t.Helper()
	path := requireTool(t, "podman", "apt-get install -y podman")
	if out, err := exec.Command(path, "info").CombinedOutput(); err != nil {
		t.Skipf("podman cannot run on this machine (podman info: %v): %s", err, firstLine(out))
	}
	return path
}

// TestImageFinalStage builds the Dockerfile's final stage with podman: the
// same instructions over an empty base (scratch instead of distroless,
// which cannot be pulled here) with the host's static build in place of
// the build stage's output. It checks the image's configuration (non-root
// user, entrypoint, volumes, port, environment naming real flags) and runs
// the binary in it where the container runtime can start a container.
func TestImageFinalStage(t *testing.T) {
	pm := podman(t)
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	froms := fromLine.FindAllStringIndex(string(b), -1)
	if len(froms) != 2 {
		t.Fatalf("the Dockerfile has %d FROM lines, want 2 (build, final)", len(froms))
	}
	final := string(b)[froms[1][0]:]
	final = fromLine.ReplaceAllString(final, "FROM scratch")
	final = strings.ReplaceAll(final, "--from=build ", "")
	final = strings.ReplaceAll(final, " /out/", " out/")

	ctx := t.TempDir()
	for _, d := range []string{"out/plugins", "out/data"} {
		must(t, os.MkdirAll(filepath.Join(ctx, d), 0o755))
	}
	bin, err := os.ReadFile(nodeBinary(t))
	must(t, err)
	must(t, os.WriteFile(filepath.Join(ctx, "out", "distcache"), bin, 0o755))
	must(t, os.WriteFile(filepath.Join(ctx, "Containerfile"), []byte(final), 0o644))

	tag := fmt.Sprintf("localhost/distcache-deploy-test:%d", os.Getpid())
	if out, err := exec.Command(pm, "build", "--quiet", "-t", tag, ctx).CombinedOutput(); err != nil {
		t.Fatalf("podman build of the final stage:\n%s\n%v\n%s", final, err, out)
	}
	t.Cleanup(func() { exec.Command(pm, "rmi", "-f", tag).Run() })

	out, err := exec.Command(pm, "image", "inspect", tag).Output()
	if err != nil {
		t.Fatal(err)
	}
	var images []struct {
		Config struct {
			User         string
			Entrypoint   []string
			Env          []string
			Volumes      map[string]struct{}
			ExposedPorts map[string]struct{}
		}
	}
	must(t, json.Unmarshal(out, &images))
	if len(images) != 1 {
		t.Fatalf("podman image inspect: %d images", len(images))
	}
	cfg := images[0].Config
	if cfg.User == "" || cfg.User == "0" || strings.HasPrefix(cfg.User, "root") || strings.HasPrefix(cfg.User, "0:") {
		t.Errorf("image user %q: not a non-root user", cfg.User)
	}
	if !slices.Equal(cfg.Entrypoint, []string{"/usr/local/bin/distcache"}) {
		t.Errorf("entrypoint %v", cfg.Entrypoint)
	}
	for _, v := range []string{"/data", "/plugins"} {
		if _, ok := cfg.Volumes[v]; !ok {
			t.Errorf("image declares no volume %s (volumes %v)", v, cfg.Volumes)
		}
	}
	if _, ok := cfg.ExposedPorts["8080/tcp"]; !ok {
		t.Errorf("image exposes %v, not 8080/tcp", cfg.ExposedPorts)
	}
	var env []string
	for _, e := range cfg.Env {
		name, _, _ := strings.Cut(e, "=")
		env = append(env, name)
	}
	checkArgs(t, nodeFlags(t), "Dockerfile ENV", nil, env)

	run, err := exec.Command(pm, "run", "--rm", "--network", "none", tag, "--help").CombinedOutput()
	switch {
	case err == nil && strings.Contains(string(run), "-advertise"):
		t.Log("podman ran distcache --help in the image")
	case strings.Contains(string(run), "OCI") || strings.Contains(string(run), "crun") || strings.Contains(string(run), "runc"):
		t.Logf("the image built, but this machine cannot start containers (checked without running it): %s", firstLine(run))
	default:
		t.Errorf("podman run %s --help: %v\n%s", tag, err, run)
	}
}

// TestImageBuild builds deploy/Dockerfile itself when its base images are
// already in podman's store; it cannot pull them on a machine without a
// registry (such as CI here), and then skips saying so.
func TestImageBuild(t *testing.T) {
	pm := podman(t)
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range fromLine.FindAllStringSubmatch(string(b), -1) {
		if err := exec.Command(pm, "image", "exists", m[1]).Run(); err != nil {
			t.Skipf("base image %s is not in podman's store and no registry is reachable to pull it (podman pull %s first); TestImageFinalStage and TestStaticBinary check the image without it", m[1], m[1])
		}
	}
	tag := fmt.Sprintf("localhost/distcache-deploy-build:%d", os.Getpid())
	cmd := exec.Command(pm, "build", "--pull=never", "-f", "deploy/Dockerfile", "-t", tag, ".")
	cmd.Dir = repoRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("podman build -f deploy/Dockerfile: %v\n%s", err, out)
	}
	exec.Command(pm, "rmi", "-f", tag).Run()
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return s
}
