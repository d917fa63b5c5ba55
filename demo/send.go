package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/folio-cms/folio/auth"
	"github.com/folio-cms/folio/contentful"
)

// sendTimeout bounds one webhook call: folio answers a webhook once it is
// queued, well within it.
const sendTimeout = 10 * time.Second

// WebhookSender posts webhooks to folio's own webhook route, signed with
// the demo's signing secret exactly as Contentful signs them (auth.SignAs).
type WebhookSender struct {
	// URL is the webhook route on folio's listener, such as
	// http://127.0.0.1:8080/webhooks/contentful.
	URL string
	// Target is the path folio checks the signature against: its public
	// path prefix (FOLIO_PUBLIC_URL's) and /webhooks/contentful.
	Target string
	Secret string
	// Client defaults to one that uses no proxy and follows no redirect.
	Client *http.Client
}

// Answer is folio's answer to a webhook: the HTTP status, and the JSON's
// status (accepted, duplicate, ignored), eventId, collections and reason.
type Answer struct {
	Status      int      `json:"status"`
	Outcome     string   `json:"outcome,omitempty"`
	EventID     string   `json:"eventId,omitempty"`
	Collections []string `json:"collections,omitempty"`
	Reason      string   `json:"reason,omitempty"`
}

// Send posts body as the webhook of topic t. A 2xx answer is returned as
// it is; any other, or no answer, is a *WebhookError.
func (s *WebhookSender) Send(ctx context.Context, t contentful.Topic, body []byte) (Answer, error) {
	ctx, cancel := context.WithTimeout(ctx, sendTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, bytes.NewReader(body))
	if err != nil {
		return Answer{}, &WebhookError{Code: "unreachable", Reason: err.Error()}
	}
	signed := contentful.SetWebhookHeaders(req.Header, t, "folio demo test bench")
	auth.SignAs(req, s.Target, body, s.Secret, time.Now(), signed...)
	client := s.Client
	if client == nil {
		client = &http.Client{
			Transport:     &http.Transport{Proxy: nil},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	res, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL is folio's own loopback address
		}
		return Answer{}, &WebhookError{Code: "unreachable", Reason: err.Error()}
	}
	defer res.Body.Close()
	var doc struct {
		Status      string   `json:"status"`
		EventID     string   `json:"eventId"`
		Collections []string `json:"collections"`
		Reason      string   `json:"reason"`
		Error       struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	// A body that is not folio's JSON leaves the fields empty.
	json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&doc)
	if res.StatusCode < 200 || res.StatusCode > 299 {
		code := doc.Error.Code
		if code == "" {
			code = "unexpected_answer"
		}
		return Answer{Status: res.StatusCode}, &WebhookError{Status: res.StatusCode, Code: code, Reason: doc.Error.Message}
	}
	return Answer{Status: res.StatusCode, Outcome: doc.Status, EventID: doc.EventID, Collections: doc.Collections, Reason: doc.Reason}, nil
}
