package auth

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
)

// verifyOutcome is filled in by limitedKeySet during one verification.
type verifyOutcome struct {
	payload    []byte // the signature verified
	throttled  bool   // a key set fetch was needed and refused as too soon
	keysUsable bool   // with throttled: the last fetch succeeded
	fetchErr   error  // the key set could not be fetched
	ctxErr     error
}

type outcomeKey struct{}

// limitedKeySet is go-oidc's remote key set with refetches rate limited.
//
// go-oidc refetches the JWKS whenever no cached key verifies a token (an
// unknown kid, or a forged signature under a known kid), with no limit. Here
// every fetch goes through gate, the transport of the remote key set's HTTP
// client, which admits the first fetch and then at most one per refetch
// window. The gate also keeps the keys of the last good fetch, so this
// wrapper verifies against them first and only calls the remote key set when
// a fetch is both needed and allowed: inside the window, tokens no known key
// verifies are refused without a request and without involving go-oidc.
// Callers that need keys while a fetch is under way wait for it rather than
// being refused, so a burst of first requests (or of requests right after a
// key rotation) all verify against the one fetch.
type limitedKeySet struct {
	remote *oidc.RemoteKeySet
	gate   *jwksGate
}

var _ oidc.KeySet = (*limitedKeySet)(nil)

// errJWKSThrottled means a key set fetch was needed and refused.
var errJWKSThrottled = errors.New("key set refetch skipped: fetched too recently")

// jwksFetchError is a failed key set fetch (network, status, body).
type jwksFetchError struct{ err error }

func (e *jwksFetchError) Error() string { return "fetching the key set: " + e.err.Error() }
func (e *jwksFetchError) Unwrap() error { return e.err }

func (k *limitedKeySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	payload, err := k.verifySignature(ctx, jwt)
	if out, ok := ctx.Value(outcomeKey{}).(*verifyOutcome); ok {
		var fe *jwksFetchError
		switch {
		case err == nil:
			out.payload = payload
		case errors.Is(err, errJWKSThrottled):
			out.throttled, out.keysUsable = true, k.gate.lastFetchOK()
		case errors.As(err, &fe):
			out.fetchErr = err
		case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
			out.ctxErr = err
		}
	}
	return payload, err
}

func (k *limitedKeySet) verifySignature(ctx context.Context, jwt string) ([]byte, error) {
	// go-oidc has already checked the algorithm; RS256 is all we accept.
	jws, err := jose.ParseSigned(jwt, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil || len(jws.Signatures) != 1 {
		return nil, errors.New("malformed jwt")
	}
	if payload, ok := k.gate.verify(jws); ok {
		return payload, nil
	}
	for attempt := range 20 {
		wait, may := k.gate.state()
		if wait != nil {
			// Another caller's fetch is under way: its keys may be ours.
			select {
			case <-wait:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			if payload, ok := k.gate.verify(jws); ok {
				return payload, nil
			}
			_, may = k.gate.state()
		}
		if !may {
			// A fetch may have ended since the first look at the keys.
			if payload, ok := k.gate.verify(jws); ok {
				return payload, nil
			}
			return nil, errJWKSThrottled
		}
		before := k.gate.attemptCount()
		payload, err := k.remote.VerifySignature(ctx, jwt)
		if err == nil {
			return payload, nil
		}
		// A concurrent caller's fetch may have brought the key (and ours
		// was then refused as too soon).
		if payload, ok := k.gate.verify(jws); ok {
			return payload, nil
		}
		if ctx.Err() != nil || k.gate.attemptCount() != before {
			return nil, err
		}
		// No fetch was tried during the call: go-oidc answered with the
		// result of a fetch that had just finished (its in-flight record
		// outlives the result until its goroutine clears it). Ask again
		// once it has.
		if attempt < 3 {
			runtime.Gosched()
			continue
		}
		select {
		case <-time.After(time.Millisecond):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return nil, &jwksFetchError{errors.New("go-oidc did not start a fetch")}
}

// jwksGate is the transport of key set fetches. It admits the first fetch,
// then one per refetch interval after a successful fetch (or per retry
// interval after a failed one); it turns anything but a 200 carrying RS256
// keys into a jwksFetchError, and keeps the keys of the last good fetch.
type jwksGate struct {
	base    http.RoundTripper
	now     func() time.Time
	refetch time.Duration
	retry   time.Duration
	// report, when set, is told how every admitted fetch ended (nil, or a
	// *causeError).
	report func(error)

	mu        sync.Mutex
	attempted bool
	last      time.Time
	lastOK    bool
	fetching  chan struct{}     // the admitted fetch under way; closed when it ends
	attempts  uint64            // fetches tried, admitted or not
	keys      []jose.JSONWebKey // of the last good fetch; replaced, never modified
}

// hasKeys reports whether a fetch has ever brought usable keys.
func (g *jwksGate) hasKeys() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.keys) > 0
}

func (g *jwksGate) lastFetchOK() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.lastOK
}

func (g *jwksGate) attemptCount() uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.attempts
}

// state returns the fetch under way (closed when it ends), if any, and
// whether a new fetch would be admitted now.
func (g *jwksGate) state() (fetching <-chan struct{}, mayFetch bool) {
	now := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.fetching != nil {
		return g.fetching, false
	}
	return nil, g.mayFetchLocked(now)
}

func (g *jwksGate) mayFetchLocked(now time.Time) bool {
	if g.fetching != nil {
		return false
	}
	if !g.attempted {
		return true
	}
	wait := g.refetch
	if !g.lastOK {
		wait = g.retry
	}
	return now.Sub(g.last) >= wait
}

// verify checks jws against the keys of the last good fetch, the way
// go-oidc does: the key with the token's kid, or every key without one.
func (g *jwksGate) verify(jws *jose.JSONWebSignature) ([]byte, bool) {
	g.mu.Lock()
	keys := g.keys
	g.mu.Unlock()
	kid := jws.Signatures[0].Header.KeyID
	for i := range keys {
		if kid == "" || keys[i].KeyID == kid {
			if payload, err := jws.Verify(&keys[i]); err == nil {
				return payload, true
			}
		}
	}
	return nil, false
}

func (g *jwksGate) RoundTrip(req *http.Request) (*http.Response, error) {
	now := g.now()
	g.mu.Lock()
	g.attempts++
	if !g.mayFetchLocked(now) {
		g.mu.Unlock()
		return nil, errJWKSThrottled
	}
	g.attempted, g.last = true, now
	done := make(chan struct{})
	g.fetching = done
	g.mu.Unlock()

	resp, keys, err := g.fetch(req)
	g.mu.Lock()
	g.lastOK = err == nil
	if err == nil {
		g.keys = keys
	}
	g.fetching = nil
	close(done)
	g.mu.Unlock()
	if g.report != nil {
		g.report(asCause(err))
	}
	if err != nil {
		return nil, &jwksFetchError{err}
	}
	return resp, nil
}

func (g *jwksGate) fetch(req *http.Request) (*http.Response, []jose.JSONWebKey, *causeError) {
	url := req.URL.Redacted()
	invalid := func(what string) *causeError {
		return &causeError{class: "jwks_invalid", config: true, detail: url + " " + what}
	}
	resp, err := g.base.RoundTrip(req)
	if err != nil {
		return nil, nil, &causeError{class: "jwks_unreachable", err: err,
			detail: "GET " + url + " failed: no answer (DNS, connection or timeout)"}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		return nil, nil, &causeError{class: "jwks_unreachable", err: err, detail: "GET " + url + " failed while reading the answer"}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, statusCause("jwks", "GET", url, resp.StatusCode)
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, nil, invalid("is not a key set")
	}
	var keys []jose.JSONWebKey
	for _, raw := range set.Keys {
		var k jose.JSONWebKey
		if json.Unmarshal(raw, &k) != nil {
			continue // a key type go-jose does not know: not ours to use
		}
		if _, rsaKey := k.Key.(*rsa.PublicKey); !rsaKey || (k.Use != "" && k.Use != "sig") ||
			(k.Algorithm != "" && k.Algorithm != string(jose.RS256)) {
			continue
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, nil, invalid("holds no RS256 signing key")
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	return resp, keys, nil
}
