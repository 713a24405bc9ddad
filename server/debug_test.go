package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

// TestDebugServer serves profiles on their own loopback listener: the
// index lists the profiles, and stopping closes the listener.
func TestDebugServer(t *testing.T) {
	var logs strings.Builder
	log := slog.New(slog.NewTextHandler(&logs, nil))
	stop, err := serveDebug(context.Background(), "127.0.0.1:0", log)
	if err != nil {
		t.Fatal(err)
	}
	line := logs.String()
	i := strings.Index(line, "http://")
	if i < 0 {
		t.Fatalf("no address logged: %q", line)
	}
	url := strings.Fields(line[i:])[0]
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), "goroutine") {
		t.Fatalf("GET %s = %d %.100q", url, res.StatusCode, body)
	}
	stop()
	if _, err := http.Get(url); err == nil {
		t.Fatal("the debug server still answers after stop")
	}
	if _, err := serveDebug(context.Background(), "nope:99999", log); err == nil {
		t.Fatal("a bad --debug-addr was accepted")
	}
}
