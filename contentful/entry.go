package contentful

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	sdk "github.com/contentful-labs/contentful-go"
)

// Entry is one entry in folio's JSON (CONTRACT.md, "Entry JSON"): links are
// resolved inline, fields are in the served locale.
type Entry struct {
	ID          string         `json:"id"`
	ContentType string         `json:"contentType"`
	CreatedAt   string         `json:"createdAt"`
	UpdatedAt   string         `json:"updatedAt"`
	Revision    int            `json:"revision"`
	Fields      map[string]any `json:"fields"`

	// modified is the latest updatedAt of this entry and of everything it
	// links to: the Last-Modified of a resource that holds it.
	modified time.Time
}

// Modified is the latest updatedAt of the entry and everything linked from it.
func (e *Entry) Modified() time.Time { return e.modified }

// Asset is a linked asset in folio's JSON, with an absolute https URL.
type Asset struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description"`
	URL         string `json:"url"`
	ContentType string `json:"contentType"`
	Width       *int   `json:"width"`
	Height      *int   `json:"height"`
	Size        *int   `json:"size"`
}

// Stub stands for an entry that is not rendered in full where it is linked:
// it already was in the same response (or is being rendered further up: a
// cycle), it lies deeper than the link depth, or it is linked from a
// summary.
type Stub struct {
	ID          string `json:"id"`
	ContentType string `json:"contentType"`
}

// Ref names an entity folio served: "Entry:<id>" or "Asset:<id>".
type Ref string

// EntryRef and AssetRef build Refs.
func EntryRef(id string) Ref { return Ref("Entry:" + id) }
func AssetRef(id string) Ref { return Ref("Asset:" + id) }

// entity is a raw Delivery API entry or asset.
type entity struct {
	Sys    sdk.Sys        `json:"sys"`
	Fields map[string]any `json:"fields"`
	// trimmed marks a decoded entity cut to its summary fields.
	trimmed bool
}

func decodeEntity(raw json.RawMessage) (*entity, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber() // keep numbers exactly as Contentful wrote them
	var e entity
	if err := d.Decode(&e); err != nil {
		return nil, fmt.Errorf("%w: entity: %v", ErrMalformed, err)
	}
	if err := checkSys(&e.Sys); err != nil {
		return nil, err
	}
	if e.Fields == nil {
		e.Fields = map[string]any{}
	}
	return &e, nil
}

// sysOf reads only an entity's sys, checked; the fields are scanned as JSON
// but not decoded: a fetch keeps them raw and a render decodes what it
// reaches.
func sysOf(raw json.RawMessage) (*sdk.Sys, error) {
	var e struct {
		Sys    sdk.Sys         `json:"sys"`
		Fields json.RawMessage `json:"fields"`
	}
	if err := json.Unmarshal(raw, &e); err != nil {
		return nil, fmt.Errorf("%w: entity: %v", ErrMalformed, err)
	}
	if err := checkSys(&e.Sys); err != nil {
		return nil, err
	}
	return &e.Sys, nil
}

func checkSys(s *sdk.Sys) error {
	if s.ID == "" {
		return fmt.Errorf("%w: entity without sys.id", ErrMalformed)
	}
	switch s.Type {
	case "Entry":
		if s.ContentType == nil || s.ContentType.Sys == nil || s.ContentType.Sys.ID == "" {
			return fmt.Errorf("%w: entry %s without sys.contentType", ErrMalformed, s.ID)
		}
	case "Asset":
	default:
		return fmt.Errorf("%w: entity %s has sys.type %q", ErrMalformed, s.ID, s.Type)
	}
	return nil
}

func (e *entity) contentType() string { return e.Sys.ContentType.Sys.ID }

func (e *entity) ref() Ref {
	if e.Sys.Type == "Asset" {
		return AssetRef(e.Sys.ID)
	}
	return EntryRef(e.Sys.ID)
}

func asLink(m map[string]any) (linkType, id string, ok bool) {
	sys, _ := m["sys"].(map[string]any)
	if sys == nil || len(m) != 1 || sys["type"] != "Link" {
		return "", "", false
	}
	linkType, _ = sys["linkType"].(string)
	id, _ = sys["id"].(string)
	return linkType, id, linkType != "" && id != ""
}

func asset(a *entity) *Asset {
	out := &Asset{ID: a.Sys.ID}
	out.Title, _ = a.Fields["title"].(string)
	out.Description, _ = a.Fields["description"].(string)
	file, _ := a.Fields["file"].(map[string]any)
	if file == nil {
		return out
	}
	out.URL = absoluteURL(str(file["url"]))
	out.ContentType = str(file["contentType"])
	details, _ := file["details"].(map[string]any)
	out.Size = number(details["size"])
	if image, _ := details["image"].(map[string]any); image != nil {
		out.Width = number(image["width"])
		out.Height = number(image["height"])
	}
	return out
}

// absoluteURL makes Contentful's protocol-relative asset URLs absolute https.
func absoluteURL(u string) string {
	switch {
	case u == "":
		return ""
	case strings.HasPrefix(u, "//"):
		return "https:" + u
	case strings.HasPrefix(u, "http://"):
		return "https://" + strings.TrimPrefix(u, "http://")
	default:
		return u
	}
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func number(v any) *int {
	n, ok := v.(json.Number)
	if !ok {
		return nil
	}
	i, err := n.Int64()
	if err != nil {
		return nil
	}
	x := int(i)
	return &x
}

func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

func later(t *time.Time, u time.Time) {
	if u.After(*t) {
		*t = u
	}
}
