package contentful

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// recordedEntities returns every entity (items and includes) and every
// whole answer body of the recorded Delivery API answers in
// testdata/recorded: real payloads, for the fuzz targets' seeds.
func recordedEntities(f *testing.F) (entities, bodies [][]byte) {
	f.Helper()
	files, err := filepath.Glob("testdata/recorded/*.json")
	if err != nil || len(files) == 0 {
		f.Fatalf("no recorded answers: %v", err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		var interactions []struct {
			Response struct {
				Body json.RawMessage `json:"body"`
			} `json:"response"`
		}
		if err := json.Unmarshal(b, &interactions); err != nil {
			f.Fatalf("%s: %v", name, err)
		}
		for _, in := range interactions {
			bodies = append(bodies, in.Response.Body)
			var p struct {
				Items    []json.RawMessage            `json:"items"`
				Includes map[string][]json.RawMessage `json:"includes"`
			}
			json.Unmarshal(in.Response.Body, &p)
			entities = append(entities, toBytes(p.Items)...)
			for _, inc := range p.Includes {
				entities = append(entities, toBytes(inc)...)
			}
		}
	}
	return entities, bodies
}

func toBytes(raws []json.RawMessage) [][]byte {
	out := make([][]byte, len(raws))
	for i, r := range raws {
		out[i] = r
	}
	return out
}

// FuzzParseChange: a webhook's topic header and body are parsed without a
// panic; a refusal is ErrTopic or ErrPayload (which handlers/errors.go
// answers with a 4xx); an accepted payload names an entity of the topic's
// kind with an id and a revision of 0 or more; and what WebhookBody
// writes for a change parses back to that change.
func FuzzParseChange(f *testing.F) {
	ents, _ := recordedEntities(f)
	topics := []string{"ContentManagement.Entry.publish", "ContentManagement.Asset.unpublish",
		"ContentManagement.Entry.delete", "ContentManagement.ContentType.publish", "ContentManagement.Entry.auto_save"}
	for i, e := range ents {
		f.Add(topics[i%len(topics)], e)
	}
	for _, s := range []string{"ContentManagement.Entry.unpublish", "ContentManagement.Asset.delete", "ContentManagement.Entry.archive"} {
		t, _ := ParseTopic(s)
		kind := t.Kind
		f.Add(s, WebhookBody(t, Change{Kind: kind, ID: "x1", Revision: 4, Space: "s", Environment: "master"}, time.Unix(1_700_000_000, 0)))
	}
	f.Add("ContentManagement.Entry.publish", []byte(`{"sys":{"type":"Entry","id":"a","revision":-1}}`))
	f.Add("ContentManagement.Entry.publish", []byte(`{"sys":{"type":"Entry","id":"a","revision":1e400}}`))
	f.Add("ContentManagement..publish", []byte(`{}`))
	f.Add("ContentManagement.Entry.publish", []byte(`{"sys":null}`))
	f.Add("ContentManagement.Entry.publish", []byte(` `))
	f.Fuzz(func(t *testing.T, topic string, body []byte) {
		tp, err := ParseTopic(topic)
		if err != nil {
			if !errors.Is(err, ErrTopic) {
				t.Fatalf("topic %q: an untyped refusal: %v", topic, err)
			}
			return
		}
		if tp.String() != topic {
			t.Fatalf("topic %q parses to %+v, which writes as %q", topic, tp, tp.String())
		}
		ch, err := ParseChange(tp, body)
		if err != nil {
			if !errors.Is(err, ErrPayload) {
				t.Fatalf("an untyped refusal: %v", err)
			}
			return
		}
		if ch.ID == "" || ch.Kind != tp.Kind || ch.Revision < 0 {
			t.Fatalf("accepted %+v for topic %s", ch, tp)
		}
		// What folio webhook send would write for this change says the same.
		again, err := ParseChange(tp, WebhookBody(tp, ch, time.Unix(1_700_000_000, 0)))
		if err != nil {
			t.Fatalf("WebhookBody(%+v) does not parse: %v", ch, err)
		}
		// It writes a content type for entries only, a creation date on a
		// publish only (a Deleted* record's is the deletion's) and its
		// own deletion date.
		again.DeletedAt, ch.DeletedAt = "", ""
		if tp.Kind != "Entry" {
			ch.ContentType = ""
		}
		if tp.Action.Removes() {
			ch.CreatedAt = ""
		}
		if again != ch {
			t.Fatalf("WebhookBody round trip:\n%+v\n%+v", ch, again)
		}
	})
}
