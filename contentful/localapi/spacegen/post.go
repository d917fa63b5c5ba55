package spacegen

import (
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"time"
)

// post is one blog post's generated content, before its revision and
// updatedAt are chosen.
type post struct {
	s         *Space
	i         int
	rng       *rand.Rand
	slug      string
	title     string
	excerpt   string
	tags      []any
	author    int
	related   []any
	body      *node
	published time.Time
	created   time.Time
	updatedAt time.Time
	rev       int
}

// post generates post i, always the same for the same Options.
func (s *Space) post(i int) *post {
	r := s.rng(uint64(i))
	p := &post{s: s, i: i, rng: r}
	ws := words(r, 3+r.IntN(5))
	p.title = sentenceCase(ws)
	p.slug = slugify(ws) + "-" + strconv.Itoa(i)
	p.excerpt = sentence(r, 16, 32)
	p.published = lastPublished.AddDate(0, 0, -(s.opts.Posts - 1 - i))
	p.created = p.published.Add(-time.Duration(1+r.IntN(72)) * time.Hour)
	p.updatedAt = p.published.Add(time.Duration(r.IntN(48*60)) * time.Minute)
	p.rev = 1 + r.IntN(4)
	p.author = r.IntN(Authors)
	seen := map[string]bool{}
	for range 1 + r.IntN(4) {
		if t := tagPool[r.IntN(len(tagPool))]; !seen[t] {
			seen[t] = true
			p.tags = append(p.tags, t)
		}
	}
	p.related = []any{}
	if !s.opts.NoPostLinks {
		picked := map[int]bool{}
		for want := min(i, 2+r.IntN(2)); len(picked) < want; {
			if j := earlier(r, i); !picked[j] {
				picked[j] = true
				p.related = append(p.related, link("Entry", PostID(j)))
			}
		}
	}
	p.body = p.richText()
	return p
}

// earlier picks a post published before post i (i > 0): half the time one
// of the ten before it, else any.
func earlier(r *rand.Rand, i int) int {
	if r.IntN(2) == 0 {
		return i - 1 - r.IntN(min(i, 10))
	}
	return r.IntN(i)
}

// raw renders the post at a revision and updatedAt, note appended to its
// excerpt.
func (p *post) raw(rev int, updated time.Time, note string) json.RawMessage {
	return marshal(map[string]any{
		"sys": sys("Entry", PostID(p.i), TypeBlogPost, rev, p.created, updated),
		"fields": map[string]any{
			"title":       p.title,
			"slug":        p.slug,
			"publishDate": p.published.Format("2006-01-02T15:04:05+00:00"),
			"excerpt":     p.excerpt + note,
			"tags":        p.tags,
			"author":      link("Entry", AuthorID(p.author)),
			"heroImage":   link("Asset", HeroID(p.i)),
			"related":     p.related,
			"body":        p.body,
		},
	})
}

// node is a rich text node, its fields in Contentful's order. Text nodes
// carry value and marks; the others data and content.
type node struct {
	NodeType string    `json:"nodeType"`
	Value    *string   `json:"value,omitempty"`
	Marks    *[]mark   `json:"marks,omitempty"`
	Data     *nodeData `json:"data"`
	Content  *[]*node  `json:"content,omitempty"`
}

type mark struct {
	Type string `json:"type"`
}

type nodeData struct {
	URI    string         `json:"uri,omitempty"`
	Target map[string]any `json:"target,omitempty"`
}

// text returns a text node.
func text(value string, marks ...string) *node {
	ms := make([]mark, len(marks))
	for i, m := range marks {
		ms[i] = mark{m}
	}
	return &node{NodeType: "text", Value: &value, Marks: &ms, Data: &nodeData{}}
}

// block returns a node with children.
func block(typ string, data *nodeData, children ...*node) *node {
	if children == nil {
		children = []*node{}
	}
	return &node{NodeType: typ, Data: data, Content: &children}
}

// size returns the length of n's JSON.
func (n *node) size() int {
	b, err := json.Marshal(n)
	if err != nil {
		panic(err)
	}
	return len(b)
}

// Chances, in percent per sentence, of the inline nodes of a paragraph. With
// about seventy sentences in 10 KB, a body holds some six links to earlier
// posts.
const (
	pctEntryHyperlink = 6
	pctEmbeddedInline = 3
	pctHyperlink      = 5
	pctBold           = 8
	pctCode           = 4
)

// richText returns a document of about BodyBytes bytes: headings,
// paragraphs, lists, quotes and images, with links to earlier posts.
func (p *post) richText() *node {
	r := p.rng
	doc := block("document", &nodeData{})
	size := doc.size() - 1 // each block adds a comma but the first
	for n := 0; size < p.s.opts.BodyBytes; n++ {
		var b *node
		switch k := r.IntN(100); {
		case p.s.opts.BodyBytes-size < 600: // a short last block, to end near the size
			b = p.paragraph(1)
		case n%6 == 5:
			b = block("heading-2", &nodeData{}, text(sentenceCase(words(r, 2+r.IntN(4)))))
		case k < 10:
			var items []*node
			for range 2 + r.IntN(3) {
				items = append(items, block("list-item", &nodeData{}, p.paragraph(1)))
			}
			b = block("unordered-list", &nodeData{}, items...)
		case k < 14:
			b = block("blockquote", &nodeData{}, p.paragraph(1+r.IntN(2)))
		case k < 18:
			hero := HeroID(p.i)
			if p.i > 0 && !p.s.opts.NoPostLinks {
				hero = HeroID(earlier(r, p.i))
			}
			b = block("embedded-asset-block", &nodeData{Target: link("Asset", hero)})
		default:
			b = p.paragraph(2 + r.IntN(4))
		}
		*doc.Content = append(*doc.Content, b)
		size += b.size() + 1 // and a comma
	}
	return doc
}

// paragraph returns a paragraph of n sentences, some marked or linked.
func (p *post) paragraph(n int) *node {
	r := p.rng
	var runs []*node
	for range n {
		s := sentence(r, 8, 18) + " "
		switch k := r.IntN(100); {
		case k < pctEntryHyperlink && p.linksPosts():
			runs = append(runs, block("entry-hyperlink", &nodeData{Target: link("Entry", PostID(earlier(r, p.i)))}, text(s)))
		case k < pctEntryHyperlink+pctEmbeddedInline && p.linksPosts():
			runs = append(runs, text(s), block("embedded-entry-inline", &nodeData{Target: link("Entry", PostID(earlier(r, p.i)))}))
		case k < pctEntryHyperlink+pctEmbeddedInline+pctHyperlink:
			runs = append(runs, block("hyperlink", &nodeData{URI: "https://example.com/" + slugify(words(r, 2))}, text(s)))
		case k < pctEntryHyperlink+pctEmbeddedInline+pctHyperlink+pctBold:
			runs = append(runs, text(s, "bold"))
		case k < pctEntryHyperlink+pctEmbeddedInline+pctHyperlink+pctBold+pctCode:
			runs = append(runs, text(s, "code"))
		default:
			if last := len(runs) - 1; last >= 0 && runs[last].NodeType == "text" && len(*runs[last].Marks) == 0 {
				*runs[last].Value += s // plain text continues the run
			} else {
				runs = append(runs, text(s))
			}
		}
	}
	return block("paragraph", &nodeData{}, runs...)
}

// linksPosts reports whether this post's body may link other posts.
func (p *post) linksPosts() bool { return p.i > 0 && !p.s.opts.NoPostLinks }
