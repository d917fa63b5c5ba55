package refresh_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/folio-cms/folio/cache"
	"github.com/folio-cms/folio/contentful"
	"github.com/folio-cms/folio/contentful/localapi"
	"github.com/folio-cms/folio/handlers"
	"github.com/folio-cms/folio/refresh"
)

type fixture struct {
	api    *localapi.Server
	store  *cache.Store
	loader *refresh.Loader
	router http.Handler
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	api := localapi.New("s", "master", token)
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	client, err := contentful.New(contentful.Options{BaseURL: srv.URL, Space: "s", Token: token,
		Retry: contentful.RetryPolicy{Attempts: 3},
		Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }})
	if err != nil {
		t.Fatal(err)
	}
	store := &cache.Store{}
	f := &fixture{api: api, store: store, loader: refresh.NewLoader(client, store, cols, nil)}
	f.router = handlers.NewRouter(handlers.Deps{Store: store, Status: handlers.NewStatus(handlers.Info{}, store)})
	if err := api.Put(profile("Ada"), post("first", 1, "First")); err != nil {
		t.Fatal(err)
	}
	if err := f.loader.Initial(context.Background(), instant{}); err != nil {
		t.Fatal(err)
	}
	return f
}

// served returns every content answer's status and bytes.
func (f *fixture) served() map[string]string {
	out := map[string]string{}
	for _, path := range []string{"/cv", "/blog", "/blog/first", "/blog/second"} {
		for _, enc := range []string{"", "gzip", "br"} {
			req := httptest.NewRequest("GET", path, nil)
			req.Header.Set("Accept-Encoding", enc)
			w := httptest.NewRecorder()
			f.router.ServeHTTP(w, req)
			out[path+" "+enc] = fmt.Sprintf("%d %s %s", w.Code, w.Header().Get("Etag"), w.Body.Bytes())
		}
	}
	return out
}

// TestFailedRefreshKeepsServing: whatever goes wrong upstream, the previous
// snapshot stays served byte for byte.
func TestFailedRefreshKeepsServing(t *testing.T) {
	// Three attempts per refresh, two refreshes: six faults.
	six := func(f localapi.Fault) func(api *localapi.Server) {
		return func(api *localapi.Server) {
			for range 6 {
				api.Script(f)
			}
		}
	}
	faults := map[string]func(api *localapi.Server){
		"500":                  six(localapi.Fault{Status: 500}),
		"429 beyond the bound": six(localapi.Fault{Status: 429, Reset: 1}),
		"malformed JSON":       six(localapi.Fault{Malformed: true}),
		"wrong token":          func(api *localapi.Server) { api.SetToken("revoked") },
	}
	for name, fault := range faults {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			before := f.served()
			snap := f.store.Load()
			// The content changed upstream, but the API fails.
			if err := f.api.Put(profile("Changed"), post("second", 2, "Second")); err != nil {
				t.Fatal(err)
			}
			fault(f.api)
			for _, col := range []cache.Collection{cache.CV, cache.Blog} {
				if _, err := f.loader.Refresh(context.Background(), col); err == nil {
					t.Fatalf("refresh %s succeeded through %s", col, name)
				}
			}
			if f.store.Load() != snap {
				t.Fatal("the snapshot was replaced")
			}
			after := f.served()
			for k, v := range before {
				if after[k] != v {
					t.Errorf("%s changed:\nbefore %.80s\nafter  %.80s", k, v, after[k])
				}
			}
			if f.loader.LastFailure() == nil {
				t.Error("the failure is not reported for /status")
			}
		})
	}
}

func TestRefreshServesNewContent(t *testing.T) {
	f := newFixture(t)
	if err := f.api.Put(post("second", 2, "Second")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.loader.Refresh(context.Background(), cache.Blog); err != nil {
		t.Fatal(err)
	}
	got := f.served()
	if !bytes.HasPrefix([]byte(got["/blog/second "]), []byte("200 ")) || !bytes.Contains([]byte(got["/blog "]), []byte(`"total":2`)) {
		t.Fatalf("new post not served: %v", got)
	}
	// The unchanged post keeps its resource (no recompression).
	if f.store.Load().Blog.Posts["first"] == nil {
		t.Fatal("first post lost")
	}
}

func TestInitialRetriesUntilLoaded(t *testing.T) {
	api := localapi.New("s", "master", token)
	srv := httptest.NewServer(api)
	defer srv.Close()
	if err := api.Put(profile("Ada"), post("first", 1, "First")); err != nil {
		t.Fatal(err)
	}
	client, _ := contentful.New(contentful.Options{BaseURL: srv.URL, Space: "s", Token: "wrong"})
	store := &cache.Store{}
	l := refresh.NewLoader(client, store, cols, nil)
	waits := 0
	err := l.Initial(context.Background(), instant{onAfter: func() {
		waits++
		if waits == 3 {
			api.SetToken("wrong") // the operator fixes the token
		}
	}})
	if err != nil || !store.Load().Ready() || waits != 3 {
		t.Fatalf("err %v, ready %v, waits %d", err, store.Load().Ready(), waits)
	}
}

// instant is a Clock whose waits end at once.
type instant struct{ onAfter func() }

func (instant) Now() time.Time { return time.Now() }

func (c instant) After(time.Duration) <-chan time.Time {
	if c.onAfter != nil {
		c.onAfter()
	}
	ch := make(chan time.Time, 1)
	ch <- time.Now()
	return ch
}
