package e2e

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/folio-cms/folio/auth"
	"github.com/folio-cms/folio/contentful"
)

// TestEdgesAsUsersMeetThem runs the instances against the binary:
// an origin configured in capitals, errors read by a browser frontend, a
// slug holding '/', a webhook URL with a trailing slash, a future
// If-Modified-Since, an oversized header, and a slowloris client against
// folio's own 10 s header deadline.
func TestEdgesAsUsersMeetThem(t *testing.T) {
	api, url := space(t)
	if err := api.Put(entry("nested", "blogPost", 1, `{"slug":"2024/hello-world","title":"nested","publishDate":"2025-01-02"}`)); err != nil {
		t.Fatal(err)
	}
	f := start(t, url, "", "FOLIO_CORS_ORIGINS=HTTPS://Site.Example/")
	f.until("ready", 10*time.Second, func() bool { return f.status("/readyz") == 200 })

	// The slowloris runs beside the other checks: it takes the deadline.
	cut := make(chan error, 1)
	go func() { cut <- slowloris(f.URL) }()

	get := func(path string, header ...string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", f.URL+path, nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		res, err := http.DefaultTransport.RoundTrip(req) // no redirect followed
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	for path, code := range map[string]int{"/blog/2024/hello-world": 200, "/blog/2024%2Fhello-world": 200,
		"/blog/nope": 404, "/blog?page=x": 400, "/cv": 200} {
		res, body := get(path, "Origin", "https://site.example")
		if res.StatusCode != code || res.Header.Get("Access-Control-Allow-Origin") != "https://site.example" {
			t.Errorf("GET %s: %d ACAO %q: %.100s", path, res.StatusCode, res.Header.Get("Access-Control-Allow-Origin"), body)
		}
	}
	if res, _ := get("/cv", "If-Modified-Since", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)); res.StatusCode != 200 {
		t.Errorf("If-Modified-Since in the future: %d, want 200", res.StatusCode)
	}
	if res, _ := get("/cv", "X-Big", strings.Repeat("x", 80<<10)); res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("an 80 KiB header: %d, want 431", res.StatusCode)
	}

	// A webhook pointed at /webhooks/contentful/ is told where to point it,
	// not redirected, and changes nothing.
	topic := contentful.Topic{Kind: "Entry", Action: contentful.Publish}
	body := contentful.WebhookBody(topic, contentful.Change{Kind: "Entry", ID: "p1", ContentType: "blogPost", Revision: 2,
		Space: "s", Environment: "master"}, time.Now())
	req, _ := http.NewRequest("POST", f.URL+"/webhooks/contentful/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/vnd.contentful.management.v1+json")
	req.Header.Set("X-Contentful-Topic", topic.String())
	auth.Sign(req, body, secret, time.Now(), "X-Contentful-Topic")
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 404 || !strings.Contains(string(b), `did you mean \"/webhooks/contentful\"`) || len(f.events()) != 0 {
		t.Errorf("POST /webhooks/contentful/: %d %s, %d events", res.StatusCode, b, len(f.events()))
	}

	if err := <-cut; err != nil {
		t.Error(err)
	}
}

// slowloris sends a request's headers a byte every 100 ms (a minute's
// worth) and reports an error unless folio closes the connection first.
func slowloris(base string) error {
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		return err
	}
	defer c.Close()
	closed := make(chan struct{})
	go func() {
		c.SetReadDeadline(time.Now().Add(2 * time.Minute))
		io.Copy(io.Discard, bufio.NewReader(c))
		close(closed)
	}()
	msg := "GET /cv HTTP/1.1\r\nHost: folio\r\nX-Slow: " + strings.Repeat("a", 600)
	for i := 0; i < len(msg); i++ {
		select {
		case <-closed:
			return nil
		case <-time.After(100 * time.Millisecond):
		}
		if _, err := c.Write([]byte{msg[i]}); err != nil {
			return nil // closed by folio
		}
	}
	return errors.New("folio kept a slowloris connection open for a minute")
}
