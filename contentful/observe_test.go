package contentful

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"
)

// TestObserve: every attempt is reported once it ends, with the label of
// its context, the status that came (0 when none did) and whether it was a
// retry.
func TestObserve(t *testing.T) {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		switch calls {
		case 1: // no answer: the connection closes
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		case 2:
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			fmt.Fprint(w, `{"sys":{"type":"Array"},"total":0,"skip":0,"limit":100,"items":[]}`)
		}
	}))
	defer srv.Close()
	var got []string
	c, err := New(Options{BaseURL: srv.URL, Space: "s", Token: "t",
		Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() },
		Observe: func(label string, status int, retry bool) {
			got = append(got, fmt.Sprint(label, " ", status, " ", retry))
		}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Fetch(WithLabel(context.Background(), "blog"), Query{ContentTypes: []string{"post"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Fetch(context.Background(), Query{ContentTypes: []string{"post"}}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"blog 0 false", "blog 503 true", "blog 200 true", " 200 false"}; !slices.Equal(got, want) {
		t.Errorf("reported %q, want %q", got, want)
	}
}
