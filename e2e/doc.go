// Package e2e holds end-to-end tests of distcache: they build the server
// binary once, start real nodes on 127.0.0.1 and talk to them over the
// wire with the real `buf curl` and with plain net/http.
//
// Run them with
//
//	go test ./e2e
//
// The package has no non-test code; this file only documents it.
package e2e
