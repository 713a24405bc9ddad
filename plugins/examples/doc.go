// Package examples holds no code: its test builds the plugin examples in
// the directories below it (go-module, c, wat) with the real toolchains,
// as their READMEs say, and runs each through a cache group on the node's
// plugin runtime. See README.md.
package examples
