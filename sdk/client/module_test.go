package client_test

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestUserModuleStaysSmall builds a scratch module of a user that imports
// only this client and checks what `go mod tidy` puts in its go.mod: the
// client's own go line, not the node's, and a handful of requirements,
// none of them the node's module, its tools or its test dependencies.
func TestUserModuleStaysSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go mod tidy and go build")
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	clientDir, genDir := wd, filepath.Join(wd, "..", "..", "gen")
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/user\n\ngo 1.25\n")
	write("main.go", `package main

import (
	"context"
	"fmt"

	"github.com/distcache/distcache/sdk/client"
)

func main() {
	c, err := client.New([]string{"http://127.0.0.1:8080"})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	fmt.Println(c.GetString(context.Background(), "default", "hello"))
}
`)
	// Until the modules are published, the user's go.mod points at this
	// checkout, as a tagged release would be fetched.
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("mod", "edit",
		"-require=github.com/distcache/distcache/sdk/client@v0.0.0",
		"-replace=github.com/distcache/distcache/sdk/client="+clientDir,
		"-replace=github.com/distcache/distcache/gen="+genDir)
	run("mod", "tidy")
	run("build", "./...")

	f, err := os.Open(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var goLine string
	var reqs []string
	inRequire := false
	for sc := bufio.NewScanner(f); sc.Scan(); {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "go "):
			goLine = line
		case strings.HasPrefix(line, "toolchain ") || strings.HasPrefix(line, "tool "):
			t.Errorf("the user's go.mod gained %q", line)
		case line == "require (":
			inRequire = true
		case line == ")":
			inRequire = false
		case inRequire && line != "":
			reqs = append(reqs, strings.Fields(line)[0])
		case strings.HasPrefix(line, "require "):
			reqs = append(reqs, strings.Fields(line)[1])
		}
	}
	t.Logf("the user's go.mod: %s, %d requirements: %s", goLine, len(reqs), strings.Join(reqs, " "))
	if goLine != "go 1.25" {
		t.Errorf("go line %q, want the user's own go 1.25 (the client asks for no newer Go)", goLine)
	}
	if len(reqs) > 8 {
		t.Errorf("%d requirements, want at most 8", len(reqs))
	}
	for _, r := range reqs {
		for _, bad := range []string{"go.etcd.io", "chromedp", "bufbuild/buf", "go-task", "wazero", "sqlite", "redis", "otel"} {
			if strings.Contains(r, bad) {
				t.Errorf("requirement %s is the node's, not the client's", r)
			}
		}
		if r == "github.com/distcache/distcache" {
			t.Error("the user's module requires the node's module")
		}
	}
}
