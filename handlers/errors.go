// Package handlers holds folio's HTTP surface: the content routes, health,
// status, and (in later files) the webhook and admin routes, on gin.
package handlers

import (
	"errors"
	"log/slog"
	"net/http"

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
	errNotFound = &Error{Status: http.StatusNotFound, Code: "not_found",
		Message: "no such resource"}
	errMethod = &Error{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed",
		Message: "this resource does not answer that method"}
)

// mapping turns errors from the parts folio is built of into answers. It is
// the one place where an error becomes an HTTP status; parts register their
// own errors here (see Register) rather than know about HTTP.
var mapping []func(error) *Error

// Register adds a translation from a part's errors to an HTTP answer. It is
// called at wiring time, before serving.
func Register(f func(error) *Error) { mapping = append(mapping, f) }

// fail answers c with err and stops the handler chain. Errors that map to no
// answer are internal: logged in full, answered with a plain 500.
func fail(c *gin.Context, err error) {
	e := toError(err)
	if e.Status >= 500 && e.Code == "internal_error" {
		logger(c).Error("request failed", "method", c.Request.Method, "path", c.FullPath(), "error", err)
	}
	h := c.Writer.Header()
	for k, vs := range e.Header {
		h[k] = vs
	}
	if e.RetryAfter != "" {
		h.Set("Retry-After", e.RetryAfter)
	}
	h.Set("Cache-Control", "no-store")
	var body errorBody
	body.Error.Code = e.Code
	body.Error.Message = e.Message
	c.AbortWithStatusJSON(e.Status, body)
}

func toError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	for _, f := range mapping {
		if e := f(err); e != nil {
			return e
		}
	}
	return &Error{Status: http.StatusInternalServerError, Code: "internal_error",
		Message: "folio could not answer; the error is logged"}
}

const loggerKey = "folio.logger"

func logger(c *gin.Context) *slog.Logger {
	if l, ok := c.Get(loggerKey); ok {
		return l.(*slog.Logger)
	}
	return slog.Default()
}
