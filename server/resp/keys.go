package resp

import "strings"

// DefaultGroup is the group of keys without a group prefix when
// [Config.DefaultGroup] is empty.
const DefaultGroup = "default"

// SplitKey maps a Redis key to a group and a key of that group. When key
// has a colon and the text before the first one names a group (isGroup
// reports it), that text is the group and the rest is the key:
// "users:42" is ("users", "42"). Otherwise the whole key, colons and
// all, is a key of def: "nosuchgroup:42" is (def, "nosuchgroup:42").
func SplitKey(key string, isGroup func(string) bool, def string) (group, k string) {
	if i := strings.IndexByte(key, ':'); i > 0 && isGroup(key[:i]) {
		return key[:i], key[i+1:]
	}
	return def, key
}
