package handlers

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/folio-cms/folio/cache"
	"github.com/folio-cms/folio/contentful"
)

// identityStore holds a CV and a blog whose posts span the sizes a
// resource is held at: tiny (identity held, no compressed form), middling
// and large (identity inflated from gzip on the way), on many pages.
// big is the size of the largest post's body.
func identityStore(t *testing.T, big int) (*cache.Store, []string) {
	t.Helper()
	store := &cache.Store{}
	snapshotFor(t, store, "cv", 0)
	rng := rand.New(rand.NewPCG(1, 2))
	words := strings.Fields("the quick brown fox jumps over a lazy dog while folio serves bytes from memory")
	text := func(n int) string {
		var b strings.Builder
		for b.Len() < n {
			b.WriteString(words[rng.IntN(len(words))])
			b.WriteByte(' ')
		}
		return b.String()
	}
	var posts []json.RawMessage
	routes := []string{"/cv"}
	for i, size := range []int{0, 10, 300, 5_000, 40_000, big, 70_000, 1} {
		slug := fmt.Sprintf("p-%d", i)
		posts = append(posts, rawEntry(fmt.Sprintf("e%d", i), "blogPost", fmt.Sprintf(`{"slug":%q,"body":%q}`, slug, text(size))))
		routes = append(routes, "/blog/"+slug)
	}
	blog, err := contentful.NewCollection(posts)
	if err != nil {
		t.Fatal(err)
	}
	bp, _, err := cache.BuildBlog(context.Background(), blog, nil, cache.BlogOptions{SlugField: "slug", PageSize: 3})
	if err != nil {
		t.Fatal(err)
	}
	store.Put(bp)
	for i := range bp.Pages {
		routes = append(routes, fmt.Sprintf("/blog?page=%d", i+1))
	}
	return store, routes
}

// strongTag is the ETag folio gives identity bytes: the hex of their
// SHA-256's first 16 bytes, quoted (as before identity was inflated).
func strongTag(b []byte) string {
	sum := sha256.Sum256(b)
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}

// Every route answers every Accept-Encoding over a real server with a
// Content-Length that is the bytes sent, a body that decodes to the
// document, and for identity the ETag of the identity bytes; HEAD sends
// the same headers and no body; a Range header gets the whole document.
func TestIdentityAnswersOnEveryRoute(t *testing.T) {
	store, routes := identityStore(t, 200_000)
	s := newSite(t, store)
	for _, path := range routes {
		g := s.do("GET", path, nil, "Accept-Encoding", "gzip")
		want, err := decode(g.header.Get("Content-Encoding"), g.body)
		if err != nil {
			t.Fatalf("%s: gzip answer: %v", path, err)
		}
		for _, accept := range []string{"", "identity", "*;q=0", "gzip;q=0", "br;q=0, gzip;q=0", "identity, gzip;q=0, br;q=0",
			"gzip", "br", "gzip, deflate, br, zstd"} {
			for _, rng := range []string{"", "bytes=5-"} {
				what := fmt.Sprintf("%s Accept-Encoding %q Range %q", path, accept, rng)
				a := s.do("GET", path, nil, "Accept-Encoding", accept, "Range", rng)
				if a.code != http.StatusOK {
					t.Errorf("%s: %d", what, a.code)
					continue
				}
				if cl := a.header.Get("Content-Length"); cl != strconv.Itoa(len(a.body)) {
					t.Errorf("%s: Content-Length %s for %d bytes sent", what, cl, len(a.body))
				}
				coding := a.header.Get("Content-Encoding")
				got, err := decode(coding, a.body)
				if err != nil || string(got) != string(want) {
					t.Errorf("%s: Content-Encoding %q does not decode to the document (%v)", what, coding, err)
				}
				if coding == "" && a.header.Get("Etag") != strongTag(want) {
					t.Errorf("%s: identity ETag %s, want %s", what, a.header.Get("Etag"), strongTag(want))
				}
				h := s.do("HEAD", path, nil, "Accept-Encoding", accept, "Range", rng)
				for _, k := range []string{"Content-Length", "Content-Encoding", "Etag", "Last-Modified"} {
					if h.header.Get(k) != a.header.Get(k) {
						t.Errorf("%s: HEAD %s %q, GET %q", what, k, h.header.Get(k), a.header.Get(k))
					}
				}
				if h.code != http.StatusOK || len(h.body) != 0 {
					t.Errorf("%s: HEAD %d with %d body bytes", what, h.code, len(h.body))
				}
			}
		}
	}
}

// Identity answers of the same and of different resources at once each
// get their own inflater: every body is whole and right (run with -race).
func TestConcurrentIdentityAnswers(t *testing.T) {
	store, routes := identityStore(t, 200_000)
	h := newTestRouter(store)
	want := map[string]string{}
	for _, path := range routes {
		want[path] = do(h, "GET", path).Body.String()
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 12 {
				path := routes[(g+i)%len(routes)]
				if g%2 == 0 {
					path = "/blog/p-5" // the largest post, inflated by many at once
				}
				w := do(h, "GET", path, "Accept-Encoding", "identity")
				if w.Body.String() != want[path] || w.Header().Get("Content-Length") != strconv.Itoa(w.Body.Len()) {
					t.Errorf("%s: %d bytes, Content-Length %s, want %d bytes", path, w.Body.Len(), w.Header().Get("Content-Length"), len(want[path]))
					return
				}
			}
		})
	}
	wg.Wait()
}

// Clients that go away in the middle of an inflated identity body leave
// nothing behind: later answers, identity or not, are whole.
func TestIdentityClientsClosingMidBody(t *testing.T) {
	store, _ := identityStore(t, 1<<20)
	s := newSite(t, store)
	want := s.do("GET", "/blog/p-5", nil).body
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 3 {
				// A small receive window, so that the server is still
				// writing when the client goes.
				d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
					return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
				}}
				c, err := d.Dial("tcp", s.addr)
				if err != nil {
					t.Error(err)
					return
				}
				c.SetDeadline(time.Now().Add(20 * time.Second))
				io.WriteString(c, "GET /blog/p-5 HTTP/1.1\r\nHost: x\r\nAccept-Encoding: identity\r\n\r\n")
				r := bufio.NewReader(c)
				if _, err := io.ReadFull(r, make([]byte, 4096)); err != nil {
					t.Error(err)
				}
				c.Close() // megabytes left unread
			}
		})
	}
	wg.Wait()
	for range 2 {
		a := s.do("GET", "/blog/p-5", nil, "Accept-Encoding", "identity")
		if string(a.body) != string(want) || a.header.Get("Content-Length") != strconv.Itoa(len(want)) {
			t.Fatalf("after aborted answers: %d bytes, Content-Length %s, want %d", len(a.body), a.header.Get("Content-Length"), len(want))
		}
	}
}

// /status and /metrics count the identity bytes each collection serves,
// held or inflated: the sum of the identity answers' lengths.
func TestServedBytesCountIdentity(t *testing.T) {
	store, routes := identityStore(t, 100_000)
	s := newSite(t, store)
	want := map[string]int{}
	for _, path := range routes {
		col := "blog"
		if path == "/cv" {
			col = "cv"
		}
		want[col] += len(s.do("GET", path, nil, "Accept-Encoding", "identity").body)
	}
	var st struct {
		Collections map[string]struct{ Bytes int }
	}
	if err := json.Unmarshal(s.do("GET", "/status", nil).body, &st); err != nil {
		t.Fatal(err)
	}
	for col, n := range want {
		if got := st.Collections[col].Bytes; got != n {
			t.Errorf("/status: %s serves %d bytes, the identity answers are %d", col, got, n)
		}
		if got := store.Load().Part(cache.Collection(col)).Bytes(); got != n {
			t.Errorf("Part.Bytes (folio_snapshot_bytes): %s %d, want %d", col, got, n)
		}
	}
}
