package refresh_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/folio-cms/folio/auth"
	"github.com/folio-cms/folio/cache"
	"github.com/folio-cms/folio/contentful"
	"github.com/folio-cms/folio/contentful/localapi"
	"github.com/folio-cms/folio/handlers"
	"github.com/folio-cms/folio/refresh"
)

// benchPost is a blog post of a realistic size (about 2 KB of body).
func benchPost(i, rev int) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"sys":{"type":"Entry","id":"post-%04d","revision":%d,"createdAt":"2025-01-01T00:00:00Z","updatedAt":"2025-06-01T00:00:%02dZ",
		"contentType":{"sys":{"type":"Link","linkType":"ContentType","id":"blogPost"}}},
		"fields":{"slug":"post-%04d","title":"Post %d, revision %d","publishDate":"2025-01-%02dT00:00:00Z","body":%q}}`,
		i, rev, rev%60, i, i, rev, 1+i%28, strings.Repeat(fmt.Sprintf("Paragraph %d of a post about caching. ", i), 50)))
}

// pipeline is folio's write side over a local Delivery API: webhook intake
// (signed), memory queue, engine, store.
type pipeline struct {
	api    *localapi.Server
	store  *cache.Store
	router http.Handler
	done   chan refresh.Record
}

const benchSecret = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func newPipeline(b *testing.B, posts int) *pipeline {
	api := localapi.New("s", "master", token)
	srv := httptest.NewServer(api)
	b.Cleanup(srv.Close)
	var all []json.RawMessage
	for i := range posts {
		all = append(all, benchPost(i, 1))
	}
	if err := api.Put(append(all, profile("Ada"))...); err != nil {
		b.Fatal(err)
	}
	client, err := contentful.New(contentful.Options{BaseURL: srv.URL, Space: "s", Token: token})
	if err != nil {
		b.Fatal(err)
	}
	p := &pipeline{api: api, store: &cache.Store{}, done: make(chan refresh.Record, 10_000)}
	loader := refresh.NewLoader(client, p.store, cols, nil)
	if err := loader.RefreshAll(context.Background()); err != nil {
		b.Fatal(err)
	}
	engine := refresh.NewEngine(loader, refresh.EngineOptions{OnFinal: func(r refresh.Record) { p.done <- r }}, nil)
	queue := refresh.NewMemoryQueue(10_000)
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	go engine.Run(ctx, queue.Events())
	p.router = handlers.NewRouter(handlers.Deps{Store: p.store, Logger: slog.New(slog.DiscardHandler),
		Status:  handlers.NewStatus(handlers.Info{}, p.store),
		Webhook: handlers.NewWebhook(refresh.NewIntake(p.store, queue, refresh.NewMemoryDedup(time.Minute, 100_000), nil, refresh.IntakeOptions{Collections: cols, Busy: engine.Busy})),
		Auth:    auth.NewGuard(auth.NewSignatureVerifier(benchSecret, time.Minute), nil),
		Limits:  handlers.NewClientLimits(1e6, 1e6)})
	api.Reset()
	return p
}

func (p *pipeline) webhook(b *testing.B, id string, rev int) {
	body := contentful.WebhookBody(contentful.Topic{Kind: "Entry", Action: contentful.Publish},
		contentful.Change{Kind: "Entry", ID: id, ContentType: "blogPost", Revision: rev}, time.Now())
	req := httptest.NewRequest("POST", "/webhooks/contentful", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/vnd.contentful.management.v1+json")
	req.Header.Set("X-Contentful-Topic", "ContentManagement.Entry.publish")
	auth.Sign(req, body, benchSecret, time.Now(), "X-Contentful-Topic")
	w := httptest.NewRecorder()
	p.router.ServeHTTP(w, req)
	if w.Code != http.StatusAccepted {
		b.Fatalf("webhook: %d %s", w.Code, w.Body.String())
	}
}

func (p *pipeline) await(b *testing.B) refresh.Record {
	select {
	case r := <-p.done:
		if r.Outcome != refresh.Done {
			b.Fatalf("event %s: %s %s", r.ID, r.Outcome, r.Error)
		}
		return r
	case <-time.After(30 * time.Second):
		b.Fatal("no event finished")
		return refresh.Record{}
	}
}

// BenchmarkWebhookToServed: a blog of 1,000 posts, one post republished per
// iteration, timed from the webhook call until the new revision is served.
// api-ms is the Delivery API fetch inside it (local, over loopback).
func BenchmarkWebhookToServed(b *testing.B) {
	p := newPipeline(b, 1000)
	var lat, fetch []time.Duration
	rev := 1
	for b.Loop() {
		rev++
		i := rev % 1000
		if err := p.api.Put(benchPost(i, rev)); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		p.webhook(b, fmt.Sprintf("post-%04d", i), rev)
		p.await(b)
		lat = append(lat, time.Since(start))
		fetch = append(fetch, p.store.Load().Blog.Took)
		if !strings.Contains(string(p.store.Load().Blog.Posts[fmt.Sprintf("post-%04d", i)].Body()), fmt.Sprintf("revision %d", rev)) {
			b.Fatal("the new revision is not served")
		}
	}
	b.ReportMetric(ms(pct(lat, 50)), "p50-ms")
	b.ReportMetric(ms(pct(lat, 99)), "p99-ms")
	b.ReportMetric(ms(pct(fetch, 50)), "api-p50-ms")
	b.ReportMetric(ms(pct(fetch, 99)), "api-p99-ms")
}

// BenchmarkBurst200: 200 posts republished at once (a bulk publish), 200
// webhooks: how many Delivery API requests until all are served.
func BenchmarkBurst200(b *testing.B) {
	p := newPipeline(b, 1000)
	rev := 1
	var requests []int
	for b.Loop() {
		rev++
		var changed []json.RawMessage
		for i := range 200 {
			changed = append(changed, benchPost(i, rev))
		}
		if err := p.api.Put(changed...); err != nil {
			b.Fatal(err)
		}
		p.api.Reset()
		var wg sync.WaitGroup
		for i := range 200 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p.webhook(b, fmt.Sprintf("post-%04d", i), rev)
			}()
		}
		wg.Wait()
		for range 200 {
			p.await(b)
		}
		requests = append(requests, p.api.Count(nil))
	}
	b.ReportMetric(float64(slices.Max(requests)), "max-requests/burst")
}

func pct(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
