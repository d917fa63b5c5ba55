// Package auth0test runs an Auth0-shaped authorization server on
// httptest for the tests of several packages: OpenID discovery, a JWKS, and
// the client-credentials grant of POST /oauth/token, answering the way an
// Auth0 tenant does (issuer with a trailing slash, sub "<client>@clients",
// azp, gty "client-credentials", space-separated scope, 401/403 error
// bodies). It also mints arbitrary and deliberately broken tokens (alg none,
// HS256 signed with the public key, a foreign key, unknown kids) so that
// verifiers can be tested against the classic attacks.
package auth0test

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// DefaultClientID is the azp (and sub prefix) Mint uses when the claims name
// neither.
const DefaultClientID = "test-client"

// Issuer is a running Auth0-shaped issuer. The exported fields may be set
// after New and before the issuer is used; they must not change while
// requests are being served.
type Issuer struct {
	// URL is the issuer exactly as it appears in iss, WITH the trailing
	// slash (http://127.0.0.1:1234/).
	URL string
	// Audience is the API identifier clients are authorised for.
	Audience string
	// Now is the issuer's clock (iat, exp); nil means time.Now.
	Now func() time.Time
	// TokenTTL is the lifetime of tokens from /oauth/token (expires_in);
	// zero means Auth0's default, 86,400 s.
	TokenTTL time.Duration

	srv *httptest.Server

	mu      sync.Mutex
	keys    []signingKey // all keys served in the JWKS; the last one signs
	nextKID int
	foreign *rsa.PrivateKey
	clients map[string]client

	down atomic.Bool

	tokenRequests     atomic.Int64
	jwksRequests      atomic.Int64
	discoveryRequests atomic.Int64
}

type signingKey struct {
	kid  string
	priv *rsa.PrivateKey
}

type client struct {
	secret string
	scopes []string
}

// New starts an issuer for audience with one RSA 2048 signing key, kid "k1".
func New(audience string) *Issuer {
	i := &Issuer{
		Audience: audience,
		clients:  map[string]client{},
	}
	i.keys = []signingKey{{kid: "k1", priv: newKey()}}
	i.nextKID = 2
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", i.discovery)
	mux.HandleFunc("/.well-known/jwks.json", i.jwks)
	mux.HandleFunc("/oauth/token", i.token)
	// URL is set before the server starts: its handlers read it, and a
	// request from another process gives the race detector no order.
	i.srv = httptest.NewUnstartedServer(mux)
	i.URL = "http://" + i.srv.Listener.Addr().String() + "/"
	i.srv.Start()
	return i
}

func newKey() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic("auth0test: generating an RSA key: " + err.Error())
	}
	return k
}

// Close stops the server.
func (i *Issuer) Close() { i.srv.Close() }

// AddClient registers a machine-to-machine application authorised (it has a
// client grant) for Audience with those scopes. Adding an existing id
// replaces it.
func (i *Issuer) AddClient(id, secret string, scopes ...string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.clients[id] = client{secret: secret, scopes: slices.Clone(scopes)}
}

// RotateKey adds a new signing key with a new kid ("k2", "k3", ...). The
// JWKS keeps serving the previous keys, so tokens they signed stay valid;
// new tokens are signed by the new key.
func (i *Issuer) RotateKey() {
	k := newKey()
	i.mu.Lock()
	defer i.mu.Unlock()
	i.keys = append(i.keys, signingKey{kid: fmt.Sprintf("k%d", i.nextKID), priv: k})
	i.nextKID++
}

// CurrentKID is the kid of the key that signs new tokens.
func (i *Issuer) CurrentKID() string {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.keys[len(i.keys)-1].kid
}

// SetDown makes every endpoint answer 503 (Auth0 unreachable) or serve again.
func (i *Issuer) SetDown(down bool) { i.down.Store(down) }

// TokenRequests counts requests to /oauth/token (including refused ones).
func (i *Issuer) TokenRequests() int { return int(i.tokenRequests.Load()) }

// JWKSRequests counts requests to /.well-known/jwks.json.
func (i *Issuer) JWKSRequests() int { return int(i.jwksRequests.Load()) }

// DiscoveryRequests counts requests to /.well-known/openid-configuration.
func (i *Issuer) DiscoveryRequests() int { return int(i.discoveryRequests.Load()) }

func (i *Issuer) now() time.Time {
	if i.Now != nil {
		return i.Now()
	}
	return time.Now()
}

// MintOption changes how Mint signs a token.
type MintOption func(*mintOptions)

type mintOptions struct {
	kid     *string
	alg     string // "RS256" (default), "none", "HS256"
	hsDER   bool   // HS256 secret is the DER public key instead of the PEM
	foreign bool
}

// WithKID puts kid in the header instead of the signing key's kid (the
// token is still signed by the current key).
func WithKID(kid string) MintOption { return func(o *mintOptions) { o.kid = &kid } }

// WithAlgNone produces an unsigned token: header alg "none", empty signature.
func WithAlgNone() MintOption { return func(o *mintOptions) { o.alg = "none" } }

// WithHS256PublicKey signs with HMAC-SHA256 using the current RSA public key
// (its PKIX PEM encoding, as published) as the secret: the classic
// algorithm-confusion attack. The kid is the current key's.
func WithHS256PublicKey() MintOption { return func(o *mintOptions) { o.alg = "HS256" } }

// WithHS256PublicKeyDER is WithHS256PublicKey with the DER encoding of the
// public key as the HMAC secret.
func WithHS256PublicKeyDER() MintOption {
	return func(o *mintOptions) { o.alg = "HS256"; o.hsDER = true }
}

// WithForeignKey signs RS256 with a key that is not in the JWKS, under the
// current key's kid.
func WithForeignKey() MintOption { return func(o *mintOptions) { o.foreign = true } }

// Mint signs a token carrying claims over Auth0's defaults: iss = URL,
// aud = Audience, azp = DefaultClientID (or the sub's prefix before
// "@clients" when only sub is given), sub = azp + "@clients",
// gty = "client-credentials", iat = now, exp = now + 1 h. A claim set to nil
// is removed; a time.Time value becomes Unix seconds.
func (i *Issuer) Mint(claims map[string]any, opts ...MintOption) string {
	now := i.now()
	c := map[string]any{
		"iss": i.URL,
		"aud": i.Audience,
		"gty": "client-credentials",
		"iat": now.Unix(),
		"exp": now.Add(time.Hour).Unix(),
	}
	azp, hasAZP := claims["azp"].(string)
	sub, hasSub := claims["sub"].(string)
	switch {
	case hasAZP && !hasSub:
		sub = azp + "@clients"
	case hasSub && !hasAZP:
		azp = strings.TrimSuffix(sub, "@clients")
	case !hasAZP && !hasSub:
		azp, sub = DefaultClientID, DefaultClientID+"@clients"
	}
	c["azp"], c["sub"] = azp, sub
	for k, v := range claims {
		switch v := v.(type) {
		case nil:
			delete(c, k)
		case time.Time:
			c[k] = v.Unix()
		default:
			c[k] = v
		}
	}
	var o mintOptions
	o.alg = "RS256"
	for _, opt := range opts {
		opt(&o)
	}
	return i.sign(c, o)
}

func (i *Issuer) sign(claims map[string]any, o mintOptions) string {
	i.mu.Lock()
	cur := i.keys[len(i.keys)-1]
	if o.foreign && i.foreign == nil {
		i.foreign = newKey()
	}
	foreign := i.foreign
	i.mu.Unlock()

	kid := cur.kid
	if o.kid != nil {
		kid = *o.kid
	}
	header := map[string]any{"alg": o.alg, "typ": "JWT"}
	if kid != "" && o.alg != "none" {
		header["kid"] = kid
	}
	signingInput := b64JSON(header) + "." + b64JSON(claims)
	var sig []byte
	switch o.alg {
	case "none":
		// Empty signature.
	case "HS256":
		der, err := x509.MarshalPKIXPublicKey(&cur.priv.PublicKey)
		if err != nil {
			panic(err)
		}
		secret := der
		if !o.hsDER {
			secret = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		}
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(signingInput))
		sig = m.Sum(nil)
	default:
		priv := cur.priv
		if o.foreign {
			priv = foreign
		}
		sum := sha256.Sum256([]byte(signingInput))
		s, err := rsa.SignPKCS1v15(nil, priv, crypto.SHA256, sum[:])
		if err != nil {
			panic(err)
		}
		sig = s
	}
	return signingInput + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func b64JSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func (i *Issuer) unavailable(w http.ResponseWriter) bool {
	if i.down.Load() {
		http.Error(w, "Service Unavailable", http.StatusServiceUnavailable)
		return true
	}
	return false
}

func (i *Issuer) discovery(w http.ResponseWriter, r *http.Request) {
	i.discoveryRequests.Add(1)
	if i.unavailable(w) {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                i.URL,
		"authorization_endpoint":                i.URL + "authorize",
		"token_endpoint":                        i.URL + "oauth/token",
		"device_authorization_endpoint":         i.URL + "oauth/device/code",
		"userinfo_endpoint":                     i.URL + "userinfo",
		"jwks_uri":                              i.URL + ".well-known/jwks.json",
		"revocation_endpoint":                   i.URL + "oauth/revoke",
		"scopes_supported":                      []string{"openid", "profile", "offline_access", "name", "email"},
		"response_types_supported":              []string{"code", "token", "id_token"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
	})
}

func (i *Issuer) jwks(w http.ResponseWriter, r *http.Request) {
	i.jwksRequests.Add(1)
	if i.unavailable(w) {
		return
	}
	i.mu.Lock()
	set := jose.JSONWebKeySet{}
	for _, k := range i.keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{
			Key:       &k.priv.PublicKey,
			KeyID:     k.kid,
			Algorithm: "RS256",
			Use:       "sig",
		})
	}
	i.mu.Unlock()
	writeJSON(w, http.StatusOK, set)
}

// token implements Auth0's client-credentials grant.
func (i *Issuer) token(w http.ResponseWriter, r *http.Request) {
	i.tokenRequests.Add(1)
	if i.unavailable(w) {
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		oauthError(w, http.StatusMethodNotAllowed, "invalid_request", "Method not allowed")
		return
	}
	params, ok := readParams(w, r)
	if !ok {
		return
	}

	id, secret := params.Get("client_id"), params.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok {
		// RFC 6749 §2.3.1: both are form-urlencoded inside Basic.
		bu, err1 := url.QueryUnescape(u)
		bp, err2 := url.QueryUnescape(p)
		if err1 != nil || err2 != nil || (id != "" && id != bu) || (secret != "" && secret != bp) {
			oauthError(w, http.StatusUnauthorized, "access_denied", "Unauthorized")
			return
		}
		id, secret = bu, bp
	}

	switch gt := params.Get("grant_type"); gt {
	case "client_credentials":
	case "":
		oauthError(w, http.StatusBadRequest, "invalid_request", "Missing required parameter: grant_type")
		return
	default:
		oauthError(w, http.StatusForbidden, "unauthorized_client", fmt.Sprintf("Grant type '%s' not allowed for the client.", gt))
		return
	}

	i.mu.Lock()
	c, known := i.clients[id]
	signer := i.keys[len(i.keys)-1]
	i.mu.Unlock()
	if id == "" || !known || subtle.ConstantTimeCompare([]byte(secret), []byte(c.secret)) != 1 {
		oauthError(w, http.StatusUnauthorized, "access_denied", "Unauthorized")
		return
	}

	aud := params.Get("audience")
	if aud != i.Audience || aud == "" {
		oauthError(w, http.StatusForbidden, "access_denied",
			fmt.Sprintf("Client is not authorized to access %q. You need to create a %q associated to this API.", aud, "client-grant"))
		return
	}

	granted := c.scopes
	if req := strings.Fields(params.Get("scope")); len(req) > 0 {
		var missing []string
		for _, s := range req {
			if !slices.Contains(c.scopes, s) {
				missing = append(missing, s)
			}
		}
		if len(missing) > 0 {
			oauthError(w, http.StatusForbidden, "access_denied",
				"Client has not been granted scopes: "+strings.Join(missing, ", "))
			return
		}
		granted = req
	}
	scope := strings.Join(granted, " ")

	ttl := i.TokenTTL
	if ttl <= 0 {
		ttl = 86400 * time.Second
	}
	now := i.now()
	claims := map[string]any{
		"iss": i.URL,
		"sub": id + "@clients",
		"aud": i.Audience,
		"iat": now.Unix(),
		"exp": now.Add(ttl).Unix(),
		"gty": "client-credentials",
		"azp": id,
	}
	if scope != "" {
		claims["scope"] = scope
	}
	header := map[string]any{"alg": "RS256", "typ": "JWT", "kid": signer.kid}
	in := b64JSON(header) + "." + b64JSON(claims)
	sum := sha256.Sum256([]byte(in))
	sig, err := rsa.SignPKCS1v15(nil, signer.priv, crypto.SHA256, sum[:])
	if err != nil {
		oauthError(w, http.StatusInternalServerError, "server_error", "signing failed")
		return
	}
	resp := map[string]any{
		"access_token": in + "." + base64.RawURLEncoding.EncodeToString(sig),
		"token_type":   "Bearer",
		"expires_in":   int(ttl / time.Second),
	}
	if scope != "" {
		resp["scope"] = scope
	}
	writeJSON(w, http.StatusOK, resp)
}

// readParams reads a form-urlencoded or JSON body (Auth0 accepts both).
func readParams(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "application/json" {
		var m map[string]any
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			oauthError(w, http.StatusBadRequest, "invalid_request", "Invalid JSON body")
			return nil, false
		}
		v := url.Values{}
		for k, x := range m {
			if s, ok := x.(string); ok {
				v.Set(k, s)
			}
		}
		return v, true
	}
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "Invalid body")
		return nil, false
	}
	return r.PostForm, true
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
