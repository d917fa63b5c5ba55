package refresh_test

import (
	"encoding/json"
	"fmt"

	"github.com/folio-cms/folio/refresh"
)

const token = "cda-token"

var cols = refresh.Collections{CVTypes: []string{"profile", "skill"}, BlogType: "blogPost", BlogOrder: "-fields.publishDate", SlugField: "slug"}

func post(id string, rev int, title string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"sys":{"type":"Entry","id":%q,"revision":%d,"createdAt":"2025-01-01T00:00:00Z","updatedAt":"2025-01-0%dT00:00:00Z",
		"contentType":{"sys":{"type":"Link","linkType":"ContentType","id":"blogPost"}}},
		"fields":{"slug":%q,"title":%q,"publishDate":"2025-01-01"}}`, id, rev, rev, id, title))
}

func profile(name string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"sys":{"type":"Entry","id":"me","revision":1,"createdAt":"2025-01-01T00:00:00Z","updatedAt":"2025-01-01T00:00:00Z",
		"contentType":{"sys":{"type":"Link","linkType":"ContentType","id":"profile"}}},"fields":{"name":%q}}`, name))
}
