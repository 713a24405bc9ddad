package plugin

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"strconv"
	"strings"
)

// This file holds the http_allow list that http_get checks every URL
// against, the first one and every redirect. A raw string prefix is not
// enough: "http://h:80" is a prefix of "http://h:8080/", and of
// "http://h:80@other/" (userinfo), and "/allowed/../admin" starts with
// "/allowed/". So both the entry and the URL are parsed, the scheme, host
// and port must be equal, and the URL's cleaned path must lie under the
// entry's cleaned path, segment by segment.

// target is a URL or an http_allow entry reduced to what the allow-list
// compares: a lower-case scheme and host, an explicit port, and a cleaned,
// percent-decoded path.
type target struct {
	scheme, host, port, path string
}

// origin returns scheme://host:port, for messages.
func (t target) origin() string {
	host := t.host
	if strings.Contains(host, ":") {
		host = "[" + host + "]" // IPv6
	}
	return t.scheme + "://" + host + ":" + t.port
}

// under reports whether t's path lies under e's path on a segment
// boundary: "/a" covers "/a" and "/a/b", not "/ab".
func (t target) under(e target) bool {
	return e.path == "/" || t.path == e.path || strings.HasPrefix(t.path, e.path+"/")
}

// parseTarget parses raw, an absolute http or https URL, refusing what the
// allow-list cannot judge safely.
func parseTarget(raw string) (target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return target{}, fmt.Errorf("not a URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return target{}, fmt.Errorf("scheme %q is not http or https", u.Scheme)
	}
	if u.User != nil {
		return target{}, errors.New("userinfo (user@ or user:password@ before the host) is refused")
	}
	if u.Opaque != "" || u.Hostname() == "" {
		return target{}, errors.New("no host (want scheme://host[:port]/path)")
	}
	port, err := explicitPort(u)
	if err != nil {
		return target{}, err
	}
	p := u.Path // decoded, so %2e%2e and %2f count as the dots and slashes a server may see
	if strings.Contains(p, `\`) {
		return target{}, fmt.Errorf("path %q has a backslash, which some servers read as a slash", p)
	}
	if p == "" {
		p = "/"
	}
	return target{scheme: u.Scheme, host: strings.ToLower(u.Hostname()), port: port, path: path.Clean(p)}, nil
}

// explicitPort returns u's port in decimal without leading zeros, or the
// scheme's default.
func explicitPort(u *url.URL) (string, error) {
	p := u.Port()
	if p == "" {
		if u.Scheme == "https" {
			return "443", nil
		}
		return "80", nil
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("port %q is not 1-65535", p)
	}
	return strconv.Itoa(n), nil
}

// parseAllowEntry parses one http_allow entry: a URL with no userinfo,
// query or fragment.
func parseAllowEntry(raw string) (target, error) {
	t, err := parseTarget(raw)
	if err != nil {
		return target{}, err
	}
	if strings.ContainsAny(raw, "?#") {
		return target{}, errors.New("has a query or fragment")
	}
	return t, nil
}

// CheckHTTPAllow reports the first http_allow entry that http_get cannot
// use, naming it and the problem: each entry must be an absolute http or
// https URL without userinfo, query or fragment. An entry covers its
// scheme, host and port exactly (a missing port is the scheme's default)
// and the paths under its own, by whole segments. A config validator
// should call it; at call time a bad entry matches nothing.
func CheckHTTPAllow(entries []string) error {
	for i, e := range entries {
		if _, err := parseAllowEntry(e); err != nil {
			return fmt.Errorf("http_allow[%d] %q: %w", i, e, err)
		}
	}
	return nil
}

// checkAllowed returns nil if raw may be fetched under the allow-list, or
// an error naming why not.
func checkAllowed(raw string, allow []string) error {
	if len(allow) == 0 {
		return errors.New("http_allow is empty, so this loader may not use http_get")
	}
	t, err := parseTarget(raw)
	if err != nil {
		return err
	}
	var paths []string // the allowed paths of t's origin
	for _, s := range allow {
		e, err := parseAllowEntry(s)
		if err != nil || e.scheme != t.scheme || e.host != t.host || e.port != t.port {
			continue
		}
		if t.under(e) {
			return nil
		}
		paths = append(paths, e.path)
	}
	if len(paths) == 0 {
		return fmt.Errorf("%s is not an origin in http_allow", t.origin())
	}
	return fmt.Errorf("path %q (cleaned) is not under http_allow's %q for %s", t.path, paths, t.origin())
}

// redacted returns raw with any password masked, for error messages.
func redacted(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	return raw
}
