// Command bare is the yardstick of bench/load.sh: a plain net/http server,
// no framework, that answers GET /cv, /blog and one /blog/{slug} with
// exactly the bytes and the headers a running folio sends. It fetches them
// once at start, so the difference to folio is folio's own request path
// (routing, negotiation, conditional requests), nothing else.
//
//	bare -folio http://127.0.0.1:8080 -post some-slug -addr 127.0.0.1:8081
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strings"

	"github.com/folio-cms/folio/internal/httpserver"
)

// copied are the response headers taken from folio's answer; net/http adds
// Date itself, as it does for folio.
var copied = []string{
	"Content-Type", "Content-Encoding", "Content-Length", "Etag", "Last-Modified",
	"Cache-Control", "Vary", "X-Content-Type-Options",
}

// answer is one representation as folio sent it.
type answer struct {
	header []field
	body   []byte
}

// field is one response header; a slice of them is cheaper to walk than a map.
type field struct {
	name   string
	values []string
}

// page is one path: its gzip and identity answers.
type page struct{ gzip, identity answer }

func main() {
	folio := flag.String("folio", "", "base URL of a running folio to copy the answers from")
	post := flag.String("post", "", "slug of the blog post to serve at /blog/{slug}")
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	flag.Parse()
	if *folio == "" {
		fmt.Fprintln(os.Stderr, "bare: -folio is required")
		os.Exit(2)
	}
	paths := []string{"/cv", "/blog"}
	if *post != "" {
		paths = append(paths, "/blog/"+*post)
	}
	pages := map[string]*page{}
	for _, p := range paths {
		var pg page
		var err error
		if pg.gzip, err = fetch(*folio+p, "gzip"); err == nil {
			pg.identity, err = fetch(*folio+p, "identity")
		}
		if err != nil {
			log.Fatalf("bare: %v", err)
		}
		pages[p] = &pg
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("bare: %v", err)
	}
	log.Printf("bare: serving %s on %s", strings.Join(paths, " "), ln.Addr())
	log.Fatal(httpserver.New(handler(pages)).Serve(ln))
}

// handler writes the stored answer for the path: a map lookup, the headers
// assigned from prebuilt slices, one Write.
func handler(pages map[string]*page) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		pg := pages[r.URL.Path]
		if pg == nil {
			http.NotFound(w, r)
			return
		}
		a := &pg.identity
		if ae := r.Header["Accept-Encoding"]; len(ae) > 0 && strings.Contains(ae[0], "gzip") {
			a = &pg.gzip
		}
		h := w.Header()
		for _, f := range a.header {
			h[f.name] = f.values
		}
		w.WriteHeader(http.StatusOK)
		w.Write(a.body)
	}
}

// fetch GETs url with the given Accept-Encoding, undecoded, and keeps the
// headers folio sends with content.
func fetch(url, encoding string) (answer, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return answer{}, err
	}
	req.Header.Set("Accept-Encoding", encoding)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, fmt.Errorf("GET %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return answer{}, fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	a := answer{body: body}
	for _, k := range copied {
		if v := resp.Header.Values(k); len(v) > 0 {
			a.header = append(a.header, field{k, v[:len(v):len(v)]})
		}
	}
	return a, nil
}
