package ring

import (
	"strings"
	"testing"
)

func TestMemberCompatible(t *testing.T) {
	self := Member{ID: "self", VNodes: 160, Hash: HashVersion}
	for _, tc := range []struct {
		name  string
		m     Member
		self  Member
		wants []string // substrings of the error; nil means compatible
	}{
		{"equal", Member{ID: "b", VNodes: 160, Hash: HashVersion}, self, nil},
		{"other vnodes", Member{ID: "b", VNodes: 100, Hash: HashVersion}, self, []string{"member b", "100 virtual nodes", "this node 160", "--replicas"}},
		{"other hash", Member{ID: "b", VNodes: 160, Hash: HashVersion + 1}, self, []string{"member b", "hash version 2", "with 1"}},
		{"both differ: vnodes named", Member{ID: "b", VNodes: 100, Hash: HashVersion + 1}, self, []string{"100", "160", "--replicas"}},
		{"member unknown", Member{ID: "b"}, self, nil},
		{"member vnodes unknown", Member{ID: "b", Hash: HashVersion}, self, nil},
		{"member hash unknown", Member{ID: "b", VNodes: 160}, self, nil},
		{"self unknown", Member{ID: "b", VNodes: 100, Hash: HashVersion + 1}, Member{ID: "self"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.m.Compatible(tc.self)
			switch {
			case tc.wants == nil && err != nil:
				t.Fatalf("Compatible = %v, want nil", err)
			case tc.wants != nil && err == nil:
				t.Fatalf("Compatible = nil, want an error naming %q", tc.wants)
			}
			for _, w := range tc.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Compatible = %q, want it to name %q", err, w)
				}
			}
		})
	}
}

// TestMemberCompatibleIsSymmetric: two nodes with differing parameters
// must refuse each other, not only one of them.
func TestMemberCompatibleIsSymmetric(t *testing.T) {
	a := Member{ID: "a", VNodes: 160, Hash: HashVersion}
	b := Member{ID: "b", VNodes: 100, Hash: HashVersion}
	if a.Compatible(b) == nil || b.Compatible(a) == nil {
		t.Fatalf("a.Compatible(b) = %v, b.Compatible(a) = %v; want both to fail", a.Compatible(b), b.Compatible(a))
	}
}
