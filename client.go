package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
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
}

func credentialFlags(fs *flag.FlagSet) *credentials {
	return &credentials{
		secretFile: fs.String("secret-file", "", "file holding the signing secret (default CONTENTFUL_WEBHOOK_SECRET[_FILE])"),
		clientID:   fs.String("client-id", "", "Auth0 client id, sent as HTTP Basic"),
		clientFile: fs.String("client-secret-file", "", "file holding the Auth0 client secret (or FOLIO_CLIENT_SECRET)"),
		tokenFile:  fs.String("token-file", "", "file holding an Auth0 access token, sent as Bearer (or FOLIO_ACCESS_TOKEN)"),
	}
}

// apply adds the credentials to req, signing body and the named headers
// last, as Contentful does.
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
	if secret != "" {
		auth.Sign(req, body, secret, time.Now(), signed...)
	}
	return nil
}

// localURL is path on the folio that FOLIO_ADDR names, on loopback.
func localURL(env config.Lookup, path string) (string, error) {
	addr := firstOf(lookup(env, "FOLIO_ADDR"), config.DefaultAddr)
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", usageError{fmt.Sprintf("FOLIO_ADDR %q is not host:port", addr)}
	}
	return "http://127.0.0.1:" + port + path, nil
}

// call sends req, prints the answer (status line, then the JSON indented)
// and fails with refused when the answer is not a success.
func call(ctx context.Context, req *http.Request, stdout io.Writer, refused string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	res, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("send: %w", err)
	}
	defer res.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	fmt.Fprintf(stdout, "%s %s\n", res.Proto, res.Status)
	var pretty bytes.Buffer
	if json.Indent(&pretty, answer, "", "  ") == nil {
		answer = pretty.Bytes()
	}
	fmt.Fprintf(stdout, "%s\n", answer)
	if res.StatusCode >= 300 {
		return fmt.Errorf("%s (%s)", refused, res.Status)
	}
	return nil
}
