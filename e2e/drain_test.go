package e2e

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestSIGTERMDrains: on SIGTERM a node with --shutdown-delay reports not
// ready (GET /readyz 503, naming why) while it keeps serving, and only then
// refuses connections. A poller on fresh connections sees 503 before the
// first refused connection, and a Get answered in between, over the API
// and over the Redis protocol listener.
func TestSIGTERMDrains(t *testing.T) {
	respAddr := freeAddr(t)
	n := startNode(t, "--shutdown-delay", "2s", "--resp-addr", respAddr)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	probe := func(path string) (int, string, error) {
		res, err := client.Get(n.baseURL + path)
		if err != nil {
			return 0, "", err
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(body), nil
	}
	if code, body, err := probe("/healthz"); err != nil || code != http.StatusOK || body != "ok\n" {
		t.Fatalf("/healthz = %d %q, %v", code, body, err)
	}
	// Ready once the plugins are compiled (the built-in ones here).
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body, err := probe("/readyz")
		if err == nil && code == http.StatusOK && body == "ready\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz = %d %q, %v; want 200 ready", code, body, err)
		}
	}

	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	sawNotReady, servedWhileDraining := false, false
	deadline = time.Now().Add(stopTimeout)
	for time.Now().Before(deadline) {
		code, body, err := probe("/readyz")
		if err != nil {
			if !errors.Is(err, syscall.ECONNREFUSED) && !strings.Contains(err.Error(), "connection refused") &&
				!strings.Contains(err.Error(), "EOF") && !strings.Contains(err.Error(), "reset") {
				t.Fatalf("probe: %v", err)
			}
			break // the node stopped accepting
		}
		switch {
		case code == http.StatusServiceUnavailable && strings.Contains(body, "shutting down"):
			if !sawNotReady {
				sawNotReady = true
				// Still serving data while not ready.
				status, _ := connectGet(t, n.baseURL, "default", "hello")
				rdb := redis.NewClient(&redis.Options{Addr: respAddr, MaxRetries: -1})
				v, err := rdb.Get(t.Context(), "hello").Result()
				rdb.Close()
				if status == http.StatusOK && err == nil && v == "world" {
					servedWhileDraining = true
				} else {
					t.Logf("while draining: API Get status %d, RESP GET %q, %v", status, v, err)
				}
			}
		case code == http.StatusOK && !sawNotReady:
			// The signal not handled yet.
		default:
			t.Fatalf("/readyz during the drain = %d %q", code, body)
		}
	}
	if !sawNotReady {
		t.Fatal("the node refused connections before /readyz reported it not ready")
	}
	if !servedWhileDraining {
		t.Error("the node did not answer a Get (API and RESP) while draining")
	}
	if code, stderr := n.stop(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code %d; stderr:\n%s", code, stderr)
	} else if !strings.Contains(stderr, "draining") {
		t.Errorf("no draining line in the log:\n%s", stderr)
	}
}
