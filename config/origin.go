package config

import (
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// ParseOrigin returns a FOLIO_CORS_ORIGINS entry as browsers send it in the
// Origin header (RFC 6454 §6.2; the WHATWG URL standard's serialisation of
// an origin): scheme and host in lower case, the scheme's default port
// left out, no path, so that an exact comparison with Origin is the right
// one. One trailing "/" (what an address bar shows) is dropped. Refused,
// each with a sentence saying why: a path, query, fragment or credentials;
// a scheme other than http and https; a wildcard in the host (list each
// origin, or allow any with "*" alone); "null" (sent by sandboxed frames
// and file: pages, which any site can make); a host outside ASCII (browsers
// send its punycode xn-- form: write that); a port outside 1-65535.
func ParseOrigin(raw string) (string, error) {
	if strings.EqualFold(raw, "null") {
		return "", fmt.Errorf("%q is what sandboxed frames and file: pages send; any site can make one, so it is refused", raw)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" || u.Host == "" {
		return "", fmt.Errorf("%q is not an origin such as https://example.com or *", raw)
	}
	scheme := strings.ToLower(u.Scheme)
	switch {
	case scheme != "http" && scheme != "https":
		return "", fmt.Errorf("%q: an origin's scheme is http or https", raw)
	case u.User != nil:
		return "", fmt.Errorf("%q: an origin has no credentials", u.Redacted())
	case u.Path != "" && u.Path != "/", u.RawQuery != "", u.ForceQuery, u.Fragment != "", strings.Contains(raw, "#"):
		return "", fmt.Errorf("%q: an origin is scheme://host[:port], without a path, query or fragment", raw)
	case strings.Contains(u.Host, "*"):
		return "", fmt.Errorf("%q: wildcards are not origins; list each origin, or allow any with * alone", raw)
	}
	host := strings.ToLower(u.Hostname())
	if strings.HasPrefix(u.Host, "[") {
		ip, err := netip.ParseAddr(host)
		if err != nil || !ip.Is6() {
			return "", fmt.Errorf("%q: the host is not an IPv6 address", raw)
		}
		host = "[" + ip.String() + "]"
	} else {
		for _, c := range []byte(host) {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
				return "", fmt.Errorf("%q: write the host in ASCII, as browsers send it (punycode xn-- for an international name)", raw)
			}
		}
	}
	port := u.Port()
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("%q: the port is not a number from 1 to 65535", raw)
		}
		port = strconv.Itoa(n) // no leading zeros, as browsers send it
	}
	if port == "" || scheme == "http" && port == "80" || scheme == "https" && port == "443" {
		return scheme + "://" + host, nil
	}
	return scheme + "://" + host + ":" + port, nil
}
