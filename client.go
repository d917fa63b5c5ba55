package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/folio-cms/folio/auth"
	"github.com/folio-cms/folio/config"
)

// credentials are the ways a command authenticates to a running folio, as
// its webhook requires: a Contentful signature, and Auth0 credentials
// (Basic client id and secret, or a Bearer token). Secrets come from files
// or the environment, never from flags that ps would show.
type credentials struct {
	secretFile, clientID, clientFile, tokenFile *string
	allowHTTP                                   *bool
}

func credentialFlags(fs *flag.FlagSet) *credentials {
	return &credentials{
		secretFile: fs.String("secret-file", "", "file holding the signing secret (default CONTENTFUL_WEBHOOK_SECRET[_FILE])"),
		clientID:   fs.String("client-id", "", "Auth0 client id, sent as HTTP Basic"),
		clientFile: fs.String("client-secret-file", "", "file holding the Auth0 client secret (or FOLIO_CLIENT_SECRET)"),
		tokenFile:  fs.String("token-file", "", "file holding an Auth0 access token, sent as Bearer (or FOLIO_ACCESS_TOKEN)"),
		allowHTTP: fs.Bool("allow-http", false,
			"send Auth0 credentials over plain http to a host other than loopback (a network you trust)"),
	}
}

// apply adds the credentials to req, signing body and the named headers
// last, as Contentful does. Auth0 credentials (a client secret, a token)
// travel readable over plain http, so they go to a non-loopback http URL
// only with --allow-http; a signature reveals no secret and goes anywhere.
func (c *credentials) apply(req *http.Request, body []byte, env config.Lookup, signed ...string) error {
	secret, err := secretFrom(*c.secretFile, env, "CONTENTFUL_WEBHOOK_SECRET")
	if err != nil {
		return err
	}
	switch {
	case *c.clientID != "":
		cs, err := secretFrom(*c.clientFile, env, "FOLIO_CLIENT_SECRET")
		if err != nil {
			return err
		}
		if cs == "" {
			return usageError{"--client-id needs --client-secret-file or FOLIO_CLIENT_SECRET"}
		}
		req.SetBasicAuth(*c.clientID, cs)
	default:
		tok, err := secretFrom(*c.tokenFile, env, "FOLIO_ACCESS_TOKEN")
		if err != nil {
			return err
		}
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
	}
	if req.Header.Get("Authorization") != "" && req.URL.Scheme == "http" && !isLoopback(req.URL.Hostname()) && !*c.allowHTTP {
		return usageError{fmt.Sprintf("refusing to send Auth0 credentials over plain http to %s, where anyone on the way can read them: "+
			"use an https URL, or --allow-http on a network you trust", req.URL.Hostname())}
	}
	if secret != "" {
		target, err := signedTarget(req.URL, env)
		if err != nil {
			return err
		}
		auth.SignAs(req, target, body, secret, time.Now(), signed...)
	}
	return nil
}

// isLoopback reports a host that never leaves the machine: localhost
// (RFC 6761 §6.3) or a loopback address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// localURL is path on the folio that FOLIO_ADDR names: on the host it
// names (an address or a name), and on localhost (loopback) when it names
// none or an unspecified address (":8080", "0.0.0.0:8080", "[::]:8080"),
// which listens on loopback too.
func localURL(env config.Lookup, path string) (string, error) {
	addr := firstOf(lookup(env, "FOLIO_ADDR"), config.DefaultAddr)
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" {
		return "", usageError{fmt.Sprintf("FOLIO_ADDR %q is not host:port", addr)}
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		// A service name, as net.Listen accepts.
		n, err := net.LookupPort("tcp", port)
		if err != nil {
			return "", usageError{fmt.Sprintf("FOLIO_ADDR %q: unknown port %q", addr, port)}
		}
		port = strconv.Itoa(n)
	}
	if port == "0" {
		return "", usageError{fmt.Sprintf("FOLIO_ADDR %q names no fixed port: give --url", addr)}
	}
	if ip, err := netip.ParseAddr(host); host == "" || (err == nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	u := url.URL{Scheme: "http", Host: net.JoinHostPort(host, port), Path: path}
	return u.String(), nil
}

// newRequest builds a command's request to target, an absolute http(s) URL
// without credentials in it (a URL ends up in shell history, logs and
// errors: credentials go in files). Its errors never repeat the URL.
func newRequest(ctx context.Context, method, target string, body io.Reader) (*http.Request, error) {
	u, err := url.Parse(target)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, usageError{fmt.Sprintf("--url is not a URL: %v", err)}
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, usageError{"--url: want an http:// or https:// URL"}
	case u.Host == "":
		return nil, usageError{"--url: the URL names no host"}
	case u.User != nil:
		return nil, usageError{"--url: the URL carries user credentials; give them with --client-id and --client-secret-file"}
	}
	return http.NewRequestWithContext(ctx, method, u.String(), body)
}

// cliClient is the HTTP client of folio's commands. It follows no
// redirect: a 3xx is the answer (following one would carry the
// credentials and signature wherever the Location points, and a
// signature binds the path it was made for). It dials localhost as
// 127.0.0.1, then ::1, whatever /etc/hosts says. Calls are bounded by
// their context. proxy says whether HTTP_PROXY and friends apply (not to
// the local health check).
func cliClient(proxy bool) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	if !proxy {
		t.Proxy = nil
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil || !strings.EqualFold(host, "localhost") {
			return dialer.DialContext(ctx, network, addr)
		}
		var errs []error
		for _, ip := range []string{"127.0.0.1", "::1"} {
			c, err := dialer.DialContext(ctx, network, net.JoinHostPort(ip, port))
			if err == nil {
				return c, nil
			}
			errs = append(errs, err)
		}
		return nil, errors.Join(errs...)
	}
	return &http.Client{
		Transport:     t,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// redirected describes a 3xx answer, which the commands never follow,
// naming its Location without the query or user credentials (a redirect
// can carry a token there, as an operator's URL can).
func redirected(res *http.Response) string {
	where := "with no Location"
	if loc, err := res.Location(); err == nil {
		loc.RawQuery, loc.ForceQuery, loc.User, loc.Fragment, loc.RawFragment = "", false, nil, "", ""
		where = "to " + loc.String()
	}
	return fmt.Sprintf("%s %s, not followed", res.Status, where)
}

// sendError is a failed call's error with the query left out of the URL it
// names (an operator's URL could carry a token there).
func sendError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			u.RawQuery, u.User = "", nil
			return &url.Error{Op: ue.Op, URL: u.String(), Err: ue.Err}
		}
	}
	return err
}

// call sends req, prints the answer (status line, then the JSON indented)
// and fails with refused when the answer is not a success. A 3xx is an
// error naming its Location.
func call(ctx context.Context, req *http.Request, stdout io.Writer, refused string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	res, err := cliClient(true).Do(req.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("send: %w", sendError(err))
	}
	defer res.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	fmt.Fprintf(stdout, "%s %s\n", res.Proto, res.Status)
	var pretty bytes.Buffer
	if json.Indent(&pretty, answer, "", "  ") == nil {
		answer = pretty.Bytes()
	}
	fmt.Fprintf(stdout, "%s\n", answer)
	switch {
	case res.StatusCode >= 300 && res.StatusCode < 400:
		return fmt.Errorf("%s: the answer is %s (a redirect would carry the credentials and signature elsewhere); "+
			"give the final URL with --url", refused, redirected(res))
	case res.StatusCode >= 300:
		return fmt.Errorf("%s (%s)", refused, res.Status)
	}
	return nil
}
