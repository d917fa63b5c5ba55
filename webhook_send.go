package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/folio-cms/folio/auth"
	"github.com/folio-cms/folio/config"
	"github.com/folio-cms/folio/contentful"
)

const webhookUsage = `Usage: folio webhook send [flags]

Sends a Contentful-shaped webhook to a running folio, signed like Contentful
signs it when given a secret, with Auth0 credentials when given them, and
prints the answer. Contentful itself offers no such test bench.

Examples:
  folio webhook send --secret-file demo.secret --type blogPost --id post-retries --revision 3
  folio webhook send --action unpublish --type blogPost --id post-retries
  folio webhook send --kind Asset --id asset-avatar --client-id ID --client-secret-file secret.txt
  folio webhook send --body payload.json --topic ContentManagement.Entry.publish --token-file jwt.txt

Flags:
`

// webhookSend implements `folio webhook send`.
func webhookSend(ctx context.Context, args []string, env config.Lookup, stdout, stderr io.Writer) error {
	fs := newFlags("webhook send", stderr, webhookUsage)
	var (
		target      = fs.String("url", "", "webhook URL (default: /webhooks/contentful on FOLIO_ADDR's port on 127.0.0.1)")
		kind        = fs.String("kind", "Entry", "entity kind: Entry, Asset or ContentType")
		action      = fs.String("action", "publish", "publish, unpublish, archive or delete")
		topic       = fs.String("topic", "", "X-Contentful-Topic (default: ContentManagement.<kind>.<action>)")
		ctype       = fs.String("type", "", "content type id of the entry (e.g. blogPost)")
		id          = fs.String("id", "", "entity id (required unless --body)")
		revision    = fs.Int("revision", 1, "sys.revision: the publish counter the Delivery API will show")
		space       = fs.String("space", "", "sys.space id (default CONTENTFUL_SPACE_ID, or the demo space)")
		envID       = fs.String("environment", "", "sys.environment id (default CONTENTFUL_ENVIRONMENT or master)")
		bodyFile    = fs.String("body", "", "send this file as the body instead of building one")
		secretFile  = fs.String("secret-file", "", "file holding the signing secret (default CONTENTFUL_WEBHOOK_SECRET[_FILE])")
		clientID    = fs.String("client-id", "", "Auth0 client id, sent as HTTP Basic")
		clientFile  = fs.String("client-secret-file", "", "file holding the Auth0 client secret (or FOLIO_CLIENT_SECRET)")
		tokenFile   = fs.String("token-file", "", "file holding an Auth0 access token, sent as Bearer (or FOLIO_ACCESS_TOKEN)")
		idempotency = fs.String("idempotency-key", "", "X-Contentful-Idempotency-Key (default: none)")
	)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *topic == "" {
		*topic = "ContentManagement." + *kind + "." + *action
	}
	t, err := contentful.ParseTopic(*topic)
	if err != nil {
		return usageError{err.Error()}
	}

	var body []byte
	if *bodyFile != "" {
		if body, err = os.ReadFile(*bodyFile); err != nil {
			return fmt.Errorf("--body: %w", err)
		}
	} else {
		if *id == "" {
			return usageError{"webhook send: --id is required (or give --body)"}
		}
		if t.Kind == "Entry" && *ctype == "" && !t.Action.Removes() {
			return usageError{"webhook send: --type is required for an entry publish"}
		}
		body = contentful.WebhookBody(t, contentful.Change{
			Kind: t.Kind, ID: *id, ContentType: *ctype, Revision: *revision,
			Space:       firstOf(*space, lookup(env, "CONTENTFUL_SPACE_ID"), "folio-demo"),
			Environment: firstOf(*envID, lookup(env, "CONTENTFUL_ENVIRONMENT"), "master"),
		}, time.Now())
	}
	if *target == "" {
		addr := firstOf(lookup(env, "FOLIO_ADDR"), config.DefaultAddr)
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			return usageError{fmt.Sprintf("FOLIO_ADDR %q is not host:port", addr)}
		}
		*target = "http://127.0.0.1:" + port + "/webhooks/contentful"
	}

	secret, err := secretFrom(*secretFile, env, "CONTENTFUL_WEBHOOK_SECRET")
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, *target, bytes.NewReader(body))
	if err != nil {
		return usageError{fmt.Sprintf("--url: %v", err)}
	}
	req.Header.Set("Content-Type", "application/vnd.contentful.management.v1+json")
	req.Header.Set("X-Contentful-Topic", t.String())
	req.Header.Set("X-Contentful-Webhook-Name", "folio webhook send")
	if *idempotency != "" {
		req.Header.Set("X-Contentful-Idempotency-Key", *idempotency)
	}
	switch {
	case *clientID != "":
		cs, err := secretFrom(*clientFile, env, "FOLIO_CLIENT_SECRET")
		if err != nil {
			return err
		}
		if cs == "" {
			return usageError{"webhook send: --client-id needs --client-secret-file or FOLIO_CLIENT_SECRET"}
		}
		req.SetBasicAuth(*clientID, cs)
	default:
		tok, err := secretFrom(*tokenFile, env, "FOLIO_ACCESS_TOKEN")
		if err != nil {
			return err
		}
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
	}
	if secret != "" {
		auth.Sign(req, body, secret, time.Now(), "Content-Type", "X-Contentful-Topic", "X-Contentful-Webhook-Name")
	}

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
		return fmt.Errorf("the webhook was not accepted (%s)", res.Status)
	}
	return nil
}

// secretFrom reads a secret from a file flag, else NAME, else NAME_FILE.
func secretFrom(file string, env config.Lookup, name string) (string, error) {
	if file == "" {
		if v := lookup(env, name); v != "" {
			return v, nil
		}
		file = lookup(env, name+"_FILE")
	}
	if file == "" {
		return "", nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("reading a secret file: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

func lookup(env config.Lookup, name string) string {
	v, _ := env(name)
	return strings.TrimSpace(v)
}

func firstOf(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
