package plugin

import (
	"strings"
	"testing"
)

// TestCheckAllowed: the allow-list compares scheme, host and port exactly
// and the cleaned path by whole segments; what it cannot judge safely is
// refused with a reason.
func TestCheckAllowed(t *testing.T) {
	allow := []string{
		"http://api.example.com/v1/",
		"https://Data.Example.com",         // every path; port 443
		"http://127.0.0.1:80",              // no trailing slash, no path
		"http://10.0.0.1:8080/a/b",         // path without trailing slash
		"http://[::1]:9000/x/",             // IPv6
		"http://user:pw@bad.example.com/",  // invalid entry: matches nothing
		"http://q.example.com/?token=1",    // invalid entry
		"ftp://files.example.com/",         // invalid entry
		"http://esc.example.com/a%2Fb/",    // an escaped slash in the entry
		"http://dots.example.com/p/../q/.", // cleaned to /q
	}
	for _, tc := range []struct {
		url  string
		want string // "" allowed, else a substring of the error
	}{
		{"http://api.example.com/v1/users/1", ""},
		{"http://API.EXAMPLE.COM/v1/users/1", ""},
		{"http://api.example.com:80/v1/x?q=1#f", ""},
		{"http://api.example.com/v1", ""},
		{"http://api.example.com/v1x", `path "/v1x" (cleaned) is not under http_allow's ["/v1"]`},
		{"http://api.example.com/v2/", "is not under"},
		{"http://api.example.com/v1/../admin", `path "/admin" (cleaned)`},
		{"http://api.example.com/v1/%2e%2e/admin", `path "/admin" (cleaned)`},
		{"http://api.example.com/v1/..%2fadmin", `path "/admin" (cleaned)`},
		{"http://api.example.com/v1/x/%2e%2e/%2e%2e/admin", `path "/admin" (cleaned)`},
		{"http://api.example.com/v1/..\\admin", "backslash"},
		{"http://api.example.com/v1/./x/../y", ""},
		{"https://api.example.com/v1/", "https://api.example.com:443 is not an origin in http_allow"},
		{"http://api.example.com:8080/v1/", "http://api.example.com:8080 is not an origin"},
		{"http://api.example.com.evil.net/v1/", "is not an origin"},
		{"https://data.example.com/anything/at/all", ""},
		{"https://data.example.com:443/", ""},
		{"https://data.example.com", ""},
		{"http://data.example.com/", "http://data.example.com:80 is not an origin"},
		{"http://127.0.0.1/anything", ""},
		{"http://127.0.0.1:080/", ""},
		{"http://127.0.0.1:8080/", "http://127.0.0.1:8080 is not an origin"},
		{"http://127.0.0.1:80@127.0.0.1:8080/secret", "userinfo"},
		{"http://127.0.0.1:80@evil.example.com/", "userinfo"},
		{"http://user@127.0.0.1/", "userinfo"},
		{"http://127.0.0.10/", "is not an origin"},
		{"http://127.0.0.1.nip.io/", "is not an origin"},
		{"http://127.0.0.1:99999/", `port "99999" is not 1-65535`},
		{"http://10.0.0.1:8080/a/b/c", ""},
		{"http://10.0.0.1:8080/a/bc", "is not under"},
		{"http://[::1]:9000/x/y", ""},
		{"http://[::1]:9001/x/y", "http://[::1]:9001 is not an origin"},
		{"http://bad.example.com/", "is not an origin"},
		{"http://q.example.com/", "is not an origin"},
		{"ftp://files.example.com/x", `scheme "ftp" is not http or https`},
		{"file:///etc/passwd", `scheme "file"`},
		{"http:/no-host", "no host"},
		{"http:opaque", "no host"},
		{"://x", "not a URL"},
		{"http://esc.example.com/a/b/c", ""},
		{"http://dots.example.com/q/z", ""},
		{"http://dots.example.com/p/z", "is not under"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			err := checkAllowed(tc.url, allow)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	if err := checkAllowed("http://api.example.com/v1/", nil); err == nil || !strings.Contains(err.Error(), "http_allow is empty") {
		t.Errorf("empty list: %v", err)
	}
}

func TestCheckHTTPAllow(t *testing.T) {
	for _, tc := range []struct {
		entries []string
		want    string
	}{
		{nil, ""},
		{[]string{"http://a.example.com/", "https://b.example.com:8443/x"}, ""},
		{[]string{"http://a.example.com/", "http://u:p@b.example.com/"}, `http_allow[1] "http://u:p@b.example.com/": userinfo`},
		{[]string{"https://a.example.com/?k=v"}, "query or fragment"},
		{[]string{"a.example.com/"}, "scheme"},
		{[]string{"http://a.example.com:0/"}, "port"},
	} {
		err := CheckHTTPAllow(tc.entries)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("CheckHTTPAllow(%q) = %v, want %q", tc.entries, err, tc.want)
		}
	}
}
