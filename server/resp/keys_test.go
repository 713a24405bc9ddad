package resp

import (
	"strings"
	"testing"
)

func TestSplitKey(t *testing.T) {
	isGroup := func(name string) bool { return name == "users" || name == "default" }
	for _, tc := range []struct{ in, group, key string }{
		{"users:42", "users", "42"},
		{"users:a:b", "users", "a:b"},
		{"users:", "users", ""},
		{"nosuch:42", "def", "nosuch:42"},
		{"plain", "def", "plain"},
		{":x", "def", ":x"},
		{"Users:1", "def", "Users:1"}, // group names are exact
		{"default:k", "default", "k"},
		{"", "def", ""},
	} {
		if g, k := SplitKey(tc.in, isGroup, "def"); g != tc.group || k != tc.key {
			t.Errorf("SplitKey(%q) = %q, %q; want %q, %q", tc.in, g, k, tc.group, tc.key)
		}
	}
}

// FuzzSplitKey checks the rule's invariants: a key that names a group
// loses exactly "group:", any other is kept whole in the default group.
func FuzzSplitKey(f *testing.F) {
	for _, s := range []string{"users:42", "a:b:c", ":", "", "users:", "x", "users", "\xff:users:1"} {
		f.Add(s)
	}
	isGroup := func(name string) bool { return name == "users" || name == "a" }
	f.Fuzz(func(t *testing.T, in string) {
		g, k := SplitKey(in, isGroup, "def")
		switch {
		case g == "def":
			prefix, _, found := strings.Cut(in, ":")
			if k != in || (found && isGroup(prefix)) {
				t.Fatalf("SplitKey(%q) = %q, %q: the default group took a key that names a group, or changed it", in, g, k)
			}
		case isGroup(g):
			if g+":"+k != in || strings.Contains(g, ":") {
				t.Fatalf("SplitKey(%q) = %q, %q: not split at the first colon", in, g, k)
			}
		default:
			t.Fatalf("SplitKey(%q) = group %q, which is neither a group nor the default", in, g)
		}
	})
}
