package cache

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// corpusWords is the vocabulary of the generated posts: common English words
// drawn with a Zipf distribution, so the text compresses like prose does
// (frequent short words, a long tail) rather than like random bytes or one
// repeated string.
var corpusWords = strings.Fields(`the of and to a in is that it for was on
are as with his they at be this from have or by one had not but what all were
when we there can an your which their said if do will each about how up out
them then she many some so these would other into has more her two like him see
time could no make than first been its who now people my made over did down only
way find use may water long little very after words called just where most know
get through back much before go good new write our used me man too any day same
right look think also around another came come work three word must because does
part even place well such here take why things help put years different away
again off went old number great tell men say small every found still between
name should home big give air line set own under read last never us left end
along while might next sound below saw something thought both few those always
looks show large often together asked house world going want school important
until form food keep children feet land side without boy once animals life
enough took sometimes four head above kind began almost live page got earth need
far hand high year mother light parts country father let night following picture
being study second eyes soon times story boys since white days ever paper hard
near sentence better best across during today others however sure means knew
its try told young miles sun ways thing whole hear example heard several change
answer room sea against top turned learn point city play toward five using
himself usually money seen car morning drive deploy server request cache build
release latency memory goroutine channel handler router database query index
schema migration container cluster network packet socket latency metrics trace
span error retry timeout context deadline compile runtime garbage collector heap
stack pointer interface struct method package module version dependency vendor
proxy certificate token session cookie header body payload encoding compression
gzip brotli stream buffer writer reader byte string slice map array function`)

// corpus builds deterministic blog-like JSON shaped as folio serves it
// (contentful.Entry: id, contentType, dates, revision, fields with a rich
// text body), from a fixed seed so every run measures the same bytes.
type corpus struct {
	rng  *rand.Rand
	zipf *rand.Zipf
	n    int
}

func newCorpus(seed uint64) *corpus {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return &corpus{rng: rng, zipf: rand.NewZipf(rng, 1.1, 2, uint64(len(corpusWords)-1))}
}

func (c *corpus) words(n int) string {
	var sb strings.Builder
	for i := range n {
		if i > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(corpusWords[c.zipf.Uint64()])
	}
	return sb.String()
}

func (c *corpus) sentence() string {
	s := c.words(6 + c.rng.IntN(14))
	return strings.ToUpper(s[:1]) + s[1:] + "."
}

func (c *corpus) text(value string, marks ...string) map[string]any {
	m := []map[string]any{}
	for _, k := range marks {
		m = append(m, map[string]any{"type": k})
	}
	return map[string]any{"nodeType": "text", "value": value, "marks": m, "data": map[string]any{}}
}

// block is one rich-text node: mostly paragraphs, some headings, lists and
// quotes, with bold, italic and code marks and the odd hyperlink.
func (c *corpus) block() map[string]any {
	node := func(t string, content ...map[string]any) map[string]any {
		return map[string]any{"nodeType": t, "data": map[string]any{}, "content": content}
	}
	switch r := c.rng.IntN(10); {
	case r == 0:
		return node(fmt.Sprintf("heading-%d", 2+c.rng.IntN(2)), c.text(c.words(3+c.rng.IntN(5))))
	case r == 1:
		var items []map[string]any
		for range 2 + c.rng.IntN(4) {
			items = append(items, node("list-item", node("paragraph", c.text(c.sentence()))))
		}
		return node("unordered-list", items...)
	case r == 2:
		return node("blockquote", node("paragraph", c.text(c.sentence()+" "+c.sentence())))
	default:
		var parts []map[string]any
		for range 2 + c.rng.IntN(5) {
			switch c.rng.IntN(8) {
			case 0:
				parts = append(parts, c.text(c.words(2), "bold"))
			case 1:
				parts = append(parts, c.text(c.words(1), "code"))
			case 2:
				link := node("hyperlink", c.text(c.words(3)))
				link["data"] = map[string]any{"uri": "https://example.com/" + strings.ReplaceAll(c.words(3), " ", "-")}
				parts = append(parts, link)
			default:
				parts = append(parts, c.text(c.sentence()+" "))
			}
		}
		return node("paragraph", parts...)
	}
}

// post returns one blog entry whose JSON is about size bytes.
func (c *corpus) post(size int) map[string]any {
	c.n++
	created := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(c.n) * 37 * time.Hour)
	title := c.sentence()
	var tags []string
	for range 1 + c.rng.IntN(4) {
		tags = append(tags, corpusWords[c.zipf.Uint64()])
	}
	doc := map[string]any{"nodeType": "document", "data": map[string]any{}, "content": []map[string]any{}}
	e := map[string]any{
		"id":          fmt.Sprintf("%022x", c.rng.Uint64()),
		"contentType": "blogPost",
		"createdAt":   created.Format(time.RFC3339Nano),
		"updatedAt":   created.Add(time.Duration(c.rng.IntN(9000)) * time.Hour).Format(time.RFC3339Nano),
		"revision":    1 + c.rng.IntN(20),
		"fields": map[string]any{
			"title":   title,
			"slug":    fmt.Sprintf("%s-%d", strings.ReplaceAll(strings.ToLower(strings.TrimSuffix(title, ".")), " ", "-"), c.n),
			"excerpt": c.sentence() + " " + c.sentence(),
			"tags":    tags,
			"author": map[string]any{"id": "author1", "contentType": "person", "fields": map[string]any{
				"name": "Ada Example", "bio": "Writes about servers and caches."}},
			"heroImage": map[string]any{"id": fmt.Sprintf("asset%d", c.n), "title": title,
				"description": "", "url": fmt.Sprintf("https://images.ctfassets.net/space/asset%d/hero.jpg", c.n),
				"contentType": "image/jpeg", "width": 1600, "height": 900, "size": 100000 + c.rng.IntN(400000)},
			"body": doc,
		},
	}
	// Estimate with a fixed overhead, then grow the body to the size.
	n := 1100
	for n < size {
		b := c.block()
		doc["content"] = append(doc["content"].([]map[string]any), b)
		j, _ := json.Marshal(b)
		n += len(j) + 1
	}
	return e
}

// postJSON is one post of about size bytes, as GET /blog/{slug} serves it.
func (c *corpus) postJSON(size int) []byte {
	b, err := json.Marshal(c.post(size))
	if err != nil {
		panic(err)
	}
	return b
}

// listJSON is a post list of about size bytes, as GET /blog serves it: full
// entries of 10 to 20 KB each.
func (c *corpus) listJSON(size int) []byte {
	var items []json.RawMessage
	n := 20
	for n < size {
		p := c.postJSON(min(10<<10+c.rng.IntN(10<<10), size-n))
		items = append(items, p)
		n += len(p) + 1
	}
	b, err := json.Marshal(map[string]any{"total": len(items), "items": items})
	if err != nil {
		panic(err)
	}
	return b
}

// document is a body of about size bytes: one post up to 64 KB, a list above.
func (c *corpus) document(size int) []byte {
	if size <= 64<<10 {
		return c.postJSON(size)
	}
	return c.listJSON(size)
}
