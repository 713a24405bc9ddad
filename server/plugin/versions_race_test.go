//go:build race

package plugin

// raceDetector is whether the tests run under the race detector, which
// makes compiling a Go-built module take ~10 s and keeps its shadow memory
// in RSS.
const raceDetector = true
