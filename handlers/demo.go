package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/folio-cms/folio/demo"
	"github.com/gin-gonic/gin"
)

// DemoBench is demo mode's webhook test bench (demo.Bench).
type DemoBench interface {
	Entries() []demo.Entry
	Publish(ctx context.Context, id string, fields map[string]string) (demo.Result, error)
	Unpublish(ctx context.Context, id string) (demo.Result, error)
}

// Demo serves the test bench's routes, mounted in demo mode only. They
// change the demo's own sample content, nothing else, and take no
// credentials; a JSON body is required (a cross-site form cannot send one
// without a CORS preflight, which these routes never grant).
type Demo struct {
	bench DemoBench
}

// NewDemo returns the test bench's handlers.
func NewDemo(b DemoBench) *Demo { return &Demo{bench: b} }

// maxDemoBody bounds a publish's body: a few text fields.
const maxDemoBody = 64 << 10

// Entries answers GET /demo/entries: {"entries": [demo.Entry...]}.
func (h *Demo) Entries(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"entries": h.bench.Entries()})
}

// Publish answers POST /demo/entries/{id}/publish with a body
// {"fields": {"name": "text", ...}}: the bench's demo.Result, 200.
func (h *Demo) Publish(c *gin.Context) {
	var body struct {
		Fields map[string]string `json:"fields"`
	}
	if !readDemoBody(c, &body) {
		return
	}
	res, err := h.bench.Publish(c, c.Param("id"), body.Fields)
	h.render(c, res, err)
}

// Unpublish answers POST /demo/entries/{id}/unpublish (body {} or none):
// the bench's demo.Result, 200.
func (h *Demo) Unpublish(c *gin.Context) {
	var body struct{}
	if !readDemoBody(c, &body) {
		return
	}
	res, err := h.bench.Unpublish(c, c.Param("id"))
	h.render(c, res, err)
}

func (h *Demo) render(c *gin.Context, res demo.Result, err error) {
	if err != nil {
		fail(c, err)
		return
	}
	logger(c).Info("demo test bench", "entry", res.Entry.ID, "topic", res.Topic, "event", res.Webhook.EventID)
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, res)
}

// readDemoBody decodes a JSON body (empty reads as {}) into v, strictly:
// an unknown key, a value of another type or trailing data is a 400.
func readDemoBody(c *gin.Context, v any) bool {
	if mt, _, err := mime.ParseMediaType(c.GetHeader("Content-Type")); err != nil || mt != "application/json" {
		fail(c, &Error{Status: http.StatusUnsupportedMediaType, Code: "unsupported_content_type",
			Message: "send application/json"})
		return false
	}
	raw, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxDemoBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		fail(c, &Error{Status: http.StatusRequestEntityTooLarge, Code: "payload_too_large", Message: "the body is over 64 KiB"})
		return false
	case err != nil:
		fail(c, &Error{Status: http.StatusBadRequest, Code: "body_unreadable", Message: "the request body could not be read"})
		return false
	case len(raw) == 0:
		return true
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil || dec.More() {
		fail(c, &Error{Status: http.StatusBadRequest, Code: "body_invalid", Message: demoBodyProblem(err)})
		return false
	}
	return true
}

// demoBodyProblem says what is wrong with a body that did not decode
// (err nil: data after the object) in the bench's terms: encoding/json's
// own text names Go types ("Go value of type struct { Fields
// map[string]string ... }").
func demoBodyProblem(err error) string {
	const shape = `the body must be one JSON object, {"fields": {"name": "text", ...}} to publish and {} to unpublish`
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case err == nil:
		return shape + "; data follows it"
	case errors.As(err, &syntax):
		return shape + "; it is not JSON (at byte " + strconv.FormatInt(syntax.Offset, 10) + ")"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return shape + "; it ends inside the JSON"
	case errors.As(err, &typ) && typ.Field != "" && typ.Type.Kind() == reflect.String:
		return shape + "; " + strconv.Quote(typ.Field) + " has " + article(typ.Value) + " where text belongs"
	case errors.As(err, &typ) && typ.Field != "":
		return shape + "; " + strconv.Quote(typ.Field) + " is " + article(typ.Value)
	case errors.As(err, &typ):
		return shape + "; it is " + article(typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return shape + "; it has the unknown key " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	}
	return shape
}

// article is a JSON kind (encoding/json's "number", "array", "object",
// "string", "bool") with its indefinite article.
func article(kind string) string {
	if strings.HasPrefix(kind, "a") || strings.HasPrefix(kind, "o") {
		return "an " + kind
	}
	return "a " + kind
}
