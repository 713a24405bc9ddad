// Package clienttest holds the tests of the Go client (sdk/client) that
// run real nodes. It is a module of its own so that the client's module
// does not depend on the node's: a service importing the client gets the
// client's dependencies and go line, not the node's.
package clienttest
