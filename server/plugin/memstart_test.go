package plugin

import (
	"context"
	"strings"
	"testing"
)

// TestMemoryStartingOverTheCap: a module whose memory starts above an
// instance's cap is refused with an error that says so, and the process
// stays up (wazero panicked on the allocator's nil before).
func TestMemoryStartingOverTheCap(t *testing.T) {
	rt := newTestRuntime(t, Config{})
	ctx := context.Background()

	// 2,000 pages (125 MiB) are over the 64 MiB the first check runs with.
	_, err := rt.Compile(ctx, "huge", policyModule(0, 2000))
	if err == nil || !strings.Contains(err.Error(), "memory starts at 2000 pages (125 MiB)") {
		t.Fatalf("Compile of a 125 MiB memory = %v, want a refusal naming its start", err)
	}

	// 640 pages (40 MiB) pass the check but not a small group's policy cap
	// (32 MiB and 128 bytes an entry).
	mod, err := rt.Compile(ctx, "big", policyModule(0, 640))
	if err != nil {
		t.Fatalf("Compile of a 40 MiB memory: %v", err)
	}
	defer mod.Close(ctx)
	if PolicyMemoryLimit(1<<20) >= 40<<20 {
		t.Fatalf("a 1 MiB group's policy cap %d is not under 40 MiB: pick a smaller group", PolicyMemoryLimit(1<<20))
	}
	if _, err := mod.NewPolicy(ctx, 1<<20); err == nil || !strings.Contains(err.Error(), "memory starts at 640 pages") {
		t.Fatalf("NewPolicy under a %d-byte cap = %v, want a refusal naming the memory's start", PolicyMemoryLimit(1<<20), err)
	}
	p, err := mod.NewPolicy(ctx, 1<<30)
	if err != nil {
		t.Fatalf("NewPolicy for a 1 GiB group (cap %d MiB): %v", PolicyMemoryLimit(1<<30)>>20, err)
	}
	p.Close()
}
