//go:build !race

package cache

// raceEnabled says the tests run under the race detector, which makes
// every access slow.
const raceEnabled = false
