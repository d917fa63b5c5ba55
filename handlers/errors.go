// Package handlers holds folio's HTTP surface: the content routes, health,
// status, and (in later files) the webhook and admin routes, on gin.
package handlers

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/folio-cms/folio/auth"
	"github.com/folio-cms/folio/contentful"
	"github.com/folio-cms/folio/demo"
	"github.com/folio-cms/folio/refresh"
	"github.com/gin-gonic/gin"
)

// Error is an answer other than success, in the one JSON shape every error
// of folio's has: {"error": {"code": "...", "message": "..."}}.
type Error struct {
	Status  int
	Code    string // snake_case, stable: clients may branch on it
	Message string // a human sentence; never holds a secret
	// RetryAfter, when set, is sent as the Retry-After header (seconds).
	RetryAfter string
	// Header adds headers such as WWW-Authenticate.
	Header http.Header
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// errorBody is the JSON of every error answer.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// Errors that several routes share.
var (
	errNotReady = &Error{Status: http.StatusServiceUnavailable, Code: "not_ready",
		Message: "content is still loading from Contentful; retry shortly", RetryAfter: "5"}
	errMethod = &Error{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed",
		Message: "this resource does not answer that method"}
)

// notFound is the 404 of a path no route serves; route, when not empty,
// is the route it was likely meant for (suggest).
func notFound(route string) *Error {
	e := &Error{Status: http.StatusNotFound, Code: "not_found", Message: "no such resource"}
	if route != "" {
		e.Message += "; did you mean " + strconv.Quote(route) + "? folio does not redirect"
	}
	return e
}

// fail answers c with err and stops the handler chain. Errors that map to no
// answer are internal: logged in full, answered with a plain 500.
func fail(c *gin.Context, err error) {
	e := toError(c, err)
	var own *Error
	switch {
	case e.Code == "internal_error":
		logger(c).Error("request failed", "method", c.Request.Method, "path", c.FullPath(), "error", err)
	case !errors.As(err, &own):
		// Refusals of the parts (auth, queue): who was refused and why,
		// never with what; the errors carry no secret.
		logger(c).Warn("request refused", "path", c.FullPath(), "status", e.Status, "code", e.Code,
			"remote", c.ClientIP(), "error", err)
	}
	h := c.Writer.Header()
	for k, vs := range e.Header {
		h[k] = vs
	}
	if e.RetryAfter != "" {
		h.Set("Retry-After", e.RetryAfter)
	}
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	var body errorBody
	body.Error.Code = e.Code
	body.Error.Message = e.Message
	c.Set(answerKey, e.Code)
	c.AbortWithStatusJSON(e.Status, body)
}

// toError is the one place where an error becomes an HTTP answer.
func toError(c *gin.Context, err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var ae *auth.Error
	if errors.As(err, &ae) {
		return authError(c, ae)
	}
	switch {
	case errors.Is(err, contentful.ErrPayload):
		return &Error{Status: http.StatusBadRequest, Code: "payload_invalid", Message: err.Error()}
	case errors.Is(err, refresh.ErrQueueFull):
		return &Error{Status: http.StatusServiceUnavailable, Code: "queue_full",
			Message: "folio cannot hold more events right now; retry later", RetryAfter: "30"}
	case errors.Is(err, refresh.ErrUnavailable):
		return &Error{Status: http.StatusServiceUnavailable, Code: "queue_unavailable",
			Message: "folio cannot hold the event right now; retry later", RetryAfter: "30"}
	}
	if e := demoError(err); e != nil {
		return e
	}
	return &Error{Status: http.StatusInternalServerError, Code: "internal_error",
		Message: "folio could not answer; the error is logged"}
}

// demoError is the answer to the demo test bench's errors, nil for others.
func demoError(err error) *Error {
	var we *demo.WebhookError
	switch {
	case errors.Is(err, demo.ErrNoEntry):
		return &Error{Status: http.StatusNotFound, Code: "entry_not_found", Message: "no demo entry has that id"}
	case errors.Is(err, demo.ErrInput):
		return &Error{Status: http.StatusBadRequest, Code: "field_invalid", Message: err.Error()}
	case errors.Is(err, demo.ErrNotPublished):
		return &Error{Status: http.StatusConflict, Code: "entry_not_published", Message: "the entry is not published; publish it first"}
	case errors.As(err, &we):
		// The entry changed; folio's own webhook route refused the call.
		return &Error{Status: http.StatusBadGateway, Code: "webhook_refused", Message: we.Error() +
			" (the entry was changed in the demo's Delivery API all the same, as Contentful does)"}
	}
	return nil
}

func authError(c *gin.Context, ae *auth.Error) *Error {
	e := &Error{Code: ae.Code, Message: ae.Reason}
	switch ae.Kind {
	case auth.Unauthenticated:
		e.Status = http.StatusUnauthorized
		// RFC 9110: a 401 names the schemes that would work.
		schemes := []string{`Contentful-Signature realm="folio"`}
		if usesAuth0, _ := c.Get(authSchemesKey); usesAuth0 == true {
			schemes = []string{`Basic realm="folio", charset="UTF-8"`, `Bearer realm="folio"`}
			if strings.HasPrefix(ae.Code, "token_") {
				schemes[1] = `Bearer realm="folio", error="invalid_token"`
			}
		}
		e.Header = http.Header{"Www-Authenticate": schemes}
	case auth.Forbidden:
		e.Status = http.StatusForbidden
	case auth.Throttled:
		e.Status, e.RetryAfter = http.StatusTooManyRequests, "30"
	default: // Unavailable, NotConfigured: fail closed, and Contentful retries 5xx
		e.Status, e.RetryAfter = http.StatusServiceUnavailable, "30"
	}
	return e
}

const loggerKey = "folio.logger"

func logger(c *gin.Context) *slog.Logger {
	if l, ok := c.Get(loggerKey); ok {
		return l.(*slog.Logger)
	}
	return slog.Default()
}
