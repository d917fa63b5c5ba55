package handlers

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/folio-cms/folio/auth"
	"github.com/gin-gonic/gin"
	"golang.org/x/time/rate"
)

// MaxWebhookBody bounds a webhook body. Contentful's payloads are entities
// of at most a few hundred KB (its own entry size limit is 1 MB of JSON).
const MaxWebhookBody = 2 << 20

const (
	bodyKey      = "folio.webhook.body"
	principalKey = "folio.webhook.principal"
)

// Authenticator decides who is calling. auth.Guard is the implementation.
type Authenticator interface {
	Authenticate(ctx context.Context, r *http.Request, body []byte) (*auth.Principal, error)
	UsesAuth0() bool
}

// RequireAuth reads the raw body (bounded), authenticates the request with
// every configured method before anything parses it, then applies the
// caller's rate limit. Handlers after it find the body and the principal in
// the context. The webhook and the admin routes share it: an operator signs
// an admin call with the webhook's signing secret (folio refresh does), or
// sends Auth0 credentials, or both, as the deployment requires of webhooks,
// so a signature-only deployment has its way out too.
func RequireAuth(a Authenticator, limits *ClientLimits) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.ContentLength > MaxWebhookBody {
			// Refused on its declared length, before a byte of it is
			// read or an "Expect: 100-continue" invites it.
			fail(c, errPayloadTooLarge)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, MaxWebhookBody))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				fail(c, errPayloadTooLarge)
				return
			}
			fail(c, &Error{Status: http.StatusBadRequest, Code: "body_unreadable", Message: "the request body could not be read"})
			return
		}
		p, err := a.Authenticate(c, c.Request, body)
		if err != nil {
			c.Set(authSchemesKey, a.UsesAuth0())
			fail(c, err)
			return
		}
		if wait, ok := limits.allow(p.ClientID); !ok {
			fail(c, &Error{Status: http.StatusTooManyRequests, Code: "rate_limited",
				Message: "too many webhooks from this client; slow down", RetryAfter: strconv.Itoa(int(math.Ceil(wait.Seconds())))})
			return
		}
		c.Set(bodyKey, body)
		c.Set(principalKey, p)
		c.Next()
	}
}

var errPayloadTooLarge = &Error{Status: http.StatusRequestEntityTooLarge, Code: "payload_too_large",
	Message: "the webhook body is over " + strconv.Itoa(MaxWebhookBody>>20) + " MiB"}

const authSchemesKey = "folio.auth.auth0"

func principalName(c *gin.Context) string {
	if p, ok := c.Get(principalKey); ok {
		return p.(*auth.Principal).ClientID
	}
	return ""
}

// ClientLimits rate-limits each authenticated client on its own: a burst
// covers a bulk publish in the web app, the rate a steady stream.
type ClientLimits struct {
	rate  rate.Limit
	burst int
	mu    sync.Mutex
	byID  map[string]*rate.Limiter
}

// NewClientLimits allows each client perSecond webhooks with the given burst.
func NewClientLimits(perSecond float64, burst int) *ClientLimits {
	return &ClientLimits{rate: rate.Limit(perSecond), burst: burst, byID: map[string]*rate.Limiter{}}
}

// maxClients bounds the limiter map; ids are authenticated, so it only grows
// with real clients, but a bound costs nothing.
const maxClients = 10_000

func (l *ClientLimits) allow(id string) (time.Duration, bool) {
	if l == nil {
		return 0, true
	}
	l.mu.Lock()
	lim, ok := l.byID[id]
	if !ok {
		if len(l.byID) >= maxClients {
			clear(l.byID)
		}
		lim = rate.NewLimiter(l.rate, l.burst)
		l.byID[id] = lim
	}
	l.mu.Unlock()
	r := lim.Reserve()
	if d := r.Delay(); d > 0 {
		r.Cancel()
		return d, false
	}
	return 0, true
}
