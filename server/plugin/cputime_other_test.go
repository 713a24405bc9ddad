//go:build !unix

package plugin

import "time"

// cpuTime returns 0: the tests report CPU time only where getrusage is.
func cpuTime() time.Duration { return 0 }
