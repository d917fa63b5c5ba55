package refresh_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/folio-cms/folio/cache"
	"github.com/folio-cms/folio/contentful"
	"github.com/folio-cms/folio/contentful/localapi"
	"github.com/folio-cms/folio/refresh"
)

// observed records what a loader and its client report (metrics).
type observed struct {
	mu        sync.Mutex
	refreshes []string // "collection outcome"
	requests  []string // "label status retry"
}

func (o *observed) take() (refreshes, requests []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	refreshes, requests = o.refreshes, o.requests
	o.refreshes, o.requests = nil, nil
	return refreshes, requests
}

// TestObserve: every collection refresh is reported once its turn ends,
// with its outcome, and every Delivery API request it made is reported
// labelled with its collection, a retry marked as one.
func TestObserve(t *testing.T) {
	api := localapi.New("s", "master", token)
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	o := &observed{}
	client, err := contentful.New(contentful.Options{BaseURL: srv.URL, Space: "s", Token: token,
		Retry: contentful.RetryPolicy{Attempts: 2},
		Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() },
		Observe: func(label string, status int, retry bool) {
			o.mu.Lock()
			o.requests = append(o.requests, fmt.Sprint(label, " ", status, " ", retry))
			o.mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	store := &cache.Store{}
	loader := refresh.NewLoader(client, store, cols, nil)
	loader.Observe(func(col cache.Collection, outcome string, took time.Duration) {
		if took <= 0 {
			t.Errorf("%s %s took %v", col, outcome, took)
		}
		o.mu.Lock()
		o.refreshes = append(o.refreshes, string(col)+" "+outcome)
		o.mu.Unlock()
	})
	if err := api.Put(profile("Ada"), post("first", 1, "First")); err != nil {
		t.Fatal(err)
	}
	if err := loader.Initial(context.Background(), instant{}); err != nil {
		t.Fatal(err)
	}
	refreshes, requests := o.take()
	if want := []string{"cv done", "blog done"}; !slices.Equal(refreshes, want) {
		t.Errorf("first load reported %q, want %q", refreshes, want)
	}
	if !slices.Contains(requests, "cv 200 false") || !slices.Contains(requests, "blog 200 false") {
		t.Errorf("first load's requests reported as %q", requests)
	}

	api.Script(localapi.Fault{Status: 503}, localapi.Fault{Status: 503})
	if _, err := loader.Refresh(context.Background(), cache.Blog); err == nil {
		t.Fatal("a refresh through two 503s succeeded")
	}
	refreshes, requests = o.take()
	if want := []string{"blog failed"}; !slices.Equal(refreshes, want) {
		t.Errorf("a failed refresh reported %q, want %q", refreshes, want)
	}
	if want := []string{"blog 503 false", "blog 503 true"}; !slices.Equal(requests, want) {
		t.Errorf("its requests reported as %q, want %q", requests, want)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	loader.Refresh(ctx, cache.CV)
	if refreshes, _ = o.take(); !slices.Equal(refreshes, []string{"cv canceled"}) {
		t.Errorf("a refresh whose context ended reported %q", refreshes)
	}

	if _, err := loader.Refresh(context.Background(), cache.CV); err != nil {
		t.Fatal(err)
	}
	if refreshes, _ = o.take(); !slices.Equal(refreshes, []string{"cv done"}) {
		t.Errorf("a refresh finding nothing new reported %q", refreshes)
	}
}
