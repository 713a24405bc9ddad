package peer

import (
	"testing"
	"time"
)

// TestWriteTimeoutFollowsTimeout: a forwarded write's bound is a
// replication call's (Timeout) plus the lease wait, so a longer
// --peer-timeout lengthens it too; an explicit WriteTimeout stays.
func TestWriteTimeoutFollowsTimeout(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want time.Duration
	}{
		{Config{}, DefaultPeerWriteTimeout},
		{Config{Timeout: 2 * time.Second}, 2*time.Second + DefaultPeerWriteTimeout - DefaultPeerTimeout},
		{Config{Timeout: 2 * time.Second, WriteTimeout: time.Second}, time.Second},
	} {
		c, err := NewClient(tc.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if c.writeTimeout != tc.want {
			t.Errorf("NewClient(%+v).writeTimeout = %v, want %v", tc.cfg, c.writeTimeout, tc.want)
		}
	}
}
