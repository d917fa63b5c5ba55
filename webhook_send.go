package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

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
		target      = fs.String("url", "", "webhook URL (default: /webhooks/contentful on FOLIO_ADDR's host and port, localhost when it names no host)")
		kind        = fs.String("kind", "Entry", "entity kind: Entry, Asset or ContentType")
		action      = fs.String("action", "publish", "publish, unpublish, archive or delete")
		topic       = fs.String("topic", "", "X-Contentful-Topic (default: ContentManagement.<kind>.<action>)")
		ctype       = fs.String("type", "", "content type id of the entry (e.g. blogPost)")
		id          = fs.String("id", "", "entity id (required unless --body)")
		revision    = fs.Int("revision", 1, "sys.revision: the publish counter the Delivery API will show")
		space       = fs.String("space", "", "sys.space id (default CONTENTFUL_SPACE_ID, or the demo space)")
		envID       = fs.String("environment", "", "sys.environment id (default CONTENTFUL_ENVIRONMENT or master)")
		bodyFile    = fs.String("body", "", "send this file as the body instead of building one")
		idempotency = fs.String("idempotency-key", "", "X-Contentful-Idempotency-Key (default: none)")
		creds       = credentialFlags(fs)
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
		if *target, err = localURL(env, "/webhooks/contentful"); err != nil {
			return err
		}
	}
	req, err := newRequest(ctx, http.MethodPost, *target, bytes.NewReader(body))
	if err != nil {
		return err
	}
	signed := contentful.SetWebhookHeaders(req.Header, t, "folio webhook send")
	if *idempotency != "" {
		req.Header.Set("X-Contentful-Idempotency-Key", *idempotency)
	}
	if err := creds.apply(req, body, env, signed...); err != nil {
		return err
	}
	return call(ctx, req, stdout, "the webhook was not accepted")
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
