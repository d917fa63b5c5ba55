package localapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// deliveryContentType is the media type of every Delivery API answer,
// successful or not.
const deliveryContentType = "application/vnd.contentful.delivery.v1+json"

// apiError is a Contentful error body.
type apiError struct {
	Sys struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	} `json:"sys"`
	Message   string `json:"message"`
	Details   any    `json:"details,omitempty"`
	RequestID string `json:"requestId"`
}

// writeError answers with a Contentful error body.
func writeError(w http.ResponseWriter, status int, id, message string, details any, rid string) {
	var e apiError
	e.Sys.Type, e.Sys.ID = "Error", id
	e.Message, e.Details, e.RequestID = message, details, rid
	writeJSON(w, status, e)
}

// writeJSON answers with v encoded as JSON, without HTML escaping, as the
// real API sends it.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only unencodable stored values could cause this, and Put rejects
		// them; answer like the real API's internal errors all the same.
		msg, _ := json.Marshal(err.Error())
		buf.Reset()
		fmt.Fprintf(&buf, `{"sys":{"type":"Error","id":"ServerError"},"message":%s}`, msg)
		status = http.StatusInternalServerError
	}
	writeBody(w, status, buf.Bytes())
}

// writeBody writes a Delivery API answer.
func writeBody(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", deliveryContentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body) // a write error means the client has gone; nothing to do
}
