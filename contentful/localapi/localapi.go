// Package localapi is an in-process stand-in for Contentful's Content Delivery
// API (CDA).
//
// Folio uses it in two places: its tests, which need a Delivery API whose
// content, failures and timing they control, and its demo mode, which serves a
// Server on loopback so folio can run without a Contentful space. Because of
// the second use it is ordinary production code, not a test double: every
// method is safe for concurrent use with ServeHTTP, and every answer is
// deterministic (the same content and request always give the same bytes).
//
// The Server answers like the real API, modelled on the recorded responses in
// shared/fixtures/contentful:
//
//   - GET /spaces/{space}/environments/{env}/entries, and the environment-less
//     /spaces/{space}/entries, which means the "master" environment;
//   - GET .../entries/{id}, .../assets and .../assets/{id};
//   - authentication by "Authorization: Bearer <token>" or the access_token
//     query parameter;
//   - the query parameters content_type, include, limit, skip, order, locale,
//     select and filters on sys.*, fields.* and metadata.* with the operators
//     (equality), [ne], [in], [nin], [all], [exists], [lt], [lte], [gt], [gte];
//   - link resolution into "includes" up to the requested depth, and
//     "notResolvable" entries in "errors" for links to missing entities;
//   - Contentful-shaped error bodies with the Delivery API's content type.
//
// Where the local API knowingly differs from Contentful:
//
//   - With no order parameter, items are sorted by sys.id ascending. The real
//     API's default order is undocumented; sys.id is a stable approximation.
//     Ties in an explicit order are also broken by sys.id ascending.
//   - Content is single-locale. The locale parameter is echoed in sys.locale
//     and otherwise ignored; locale=* is refused with 400, because answering
//     it with flat fields would mislead a client expecting locale-keyed maps.
//   - There are no content type definitions: an unknown content_type simply
//     matches nothing (the real API answers 400), and range operators compare
//     strings lexicographically, which orders ISO 8601 dates correctly only
//     when they share one format.
//   - Parameters the real API supports but this one does not (query,
//     links_to_entry, links_to_asset, [match], [near], [within] ...) are
//     refused with 400 InvalidQuery, so a client relying on them fails loudly
//     instead of receiving silently unfiltered results. Other unknown
//     parameters are ignored, as Contentful does.
//   - Each unresolvable link is reported once in "errors" (the real API may
//     repeat it), and "includes" and "errors" are sorted by id.
//   - Methods other than GET and HEAD are answered 405 with a
//     Contentful-shaped "MethodNotAllowed" error.
//   - Request ids (X-Contentful-Request-Id and requestId) are "localapi-<n>",
//     n counting the Server's requests, so answers stay deterministic.
package localapi

import (
	"bytes"
	"cmp"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Limits and defaults of the Delivery API's collection endpoints.
const (
	defaultLimit   = 100
	maxLimit       = 1000
	defaultInclude = 1
	maxInclude     = 10
)

// deliveryContentType is the media type of every Delivery API answer,
// successful or not.
const deliveryContentType = "application/vnd.contentful.delivery.v1+json"

// statusClientClosed is recorded for requests that ended because the client
// gave up (its context was cancelled) before an answer was written. 499 is the
// code nginx uses for the same situation.
const statusClientClosed = 499

// Entity types as they appear in sys.type and in links' sys.linkType.
const (
	typeEntry = "Entry"
	typeAsset = "Asset"
)

// malformedBody is the answer of a Malformed fault: the start of a collection
// cut off mid-item, as a proxy that drops a connection would leave it.
const malformedBody = `{"sys":{"type":"Array"},"total":1,"skip":0,"limit":100,"items":[{"sys":{"type":"Entry","id":"`

// Server is an in-process Contentful Content Delivery API for one space and
// one environment. It is an http.Handler, so tests can mount it on
// httptest.NewServer and demo mode on a loopback listener. The zero value is
// not usable; create one with New.
type Server struct {
	// space and environment are fixed at construction and never written
	// again, so they are read without the lock.
	space       string
	environment string

	mu       sync.Mutex
	token    string
	live     map[entityKey]*entity // what the API currently serves
	snap     *snapshot             // sorted view of live; nil after any change
	pending  []change              // lagged changes, applied by ReleaseLag
	faults   []Fault
	delay    time.Duration
	requests []*Request
	seq      uint64 // number of requests seen, for request ids
}

// Fault is one scripted misbehaviour of the API, so that tests can check how
// a client copes with Contentful's rate limits, outages, broken answers and
// slowness. Faults queued with Script are consumed one per request to an
// entries endpoint (collection or single entry), in order, before the request
// is otherwise handled; a zero Fault consumes a turn and answers normally,
// which lets a script target, say, only the second request.
type Fault struct {
	// Status, when not 0, is the HTTP status of the answer, with a
	// Contentful-shaped error body (RateLimitExceeded for 429, ServerError
	// for 500, ServiceUnavailable for 503 ...).
	Status int
	// Reset is, with Status 429, the value in seconds of the
	// X-Contentful-RateLimit-Reset header, which tells clients how long to
	// wait before retrying.
	Reset int
	// Malformed makes the body truncated, invalid JSON. The status is 200
	// unless Status is also set.
	Malformed bool
	// Delay holds the answer back this long, or until the client cancels
	// the request, before the request is answered with Status or normally.
	Delay time.Duration
}

// Request is what the Server recorded about one request it received, so that
// tests can assert how a client used the API (how many pages it fetched,
// whether it retried, with which parameters).
type Request struct {
	// Path is the URL path, e.g. /spaces/x/environments/master/entries.
	Path string
	// Query is the parsed query string.
	Query url.Values
	// Status is the HTTP status of the answer; 0 while the request is still
	// being handled, and 499 when the client cancelled it before an answer
	// was written.
	Status int
}

// entityKey identifies an entity: Contentful ids are unique per type only
// (the example space has both an Entry and an Asset called "nyancat").
type entityKey struct {
	typ string
	id  string
}

// entity is one stored entry or asset. It is immutable once stored, so
// snapshots can share it across goroutines without copying.
type entity struct {
	key         entityKey
	contentType string         // sys.contentType.sys.id; entries only
	doc         map[string]any // the entity as served, numbers as json.Number
	links       []entityKey    // Entry and Asset links in fields, first-seen order, each once
}

// change is one lagged modification: either entities to store or ids to
// delete.
type change struct {
	put []*entity
	del []string
}

// snapshot is an immutable, sorted view of the served content, shared by
// concurrent requests and rebuilt lazily after a change.
type snapshot struct {
	entries []*entity // sorted by sys.id
	assets  []*entity // sorted by sys.id
	byKey   map[entityKey]*entity
}

// New returns a Server for the given space and environment that accepts the
// given access token. An empty environment means "master", Contentful's
// default. An empty token is accepted by no request, so a Server is never
// accidentally open; use SetToken to change the token later.
func New(space, environment, token string) *Server {
	if environment == "" {
		environment = "master"
	}
	return &Server{
		space:       space,
		environment: environment,
		token:       token,
		live:        make(map[entityKey]*entity),
	}
}

// Put stores entries and assets, replacing any stored entity of the same
// sys.type and sys.id, and makes them visible at once. Each must be in the
// Delivery API's single-locale shape, as the API returns it in "items". Put
// checks that sys.type is Entry or Asset, that sys.id is set and that entries
// name their content type, and fills sys.space and sys.environment links when
// they are missing. Nothing is stored unless every entity is valid.
func (s *Server) Put(entities ...json.RawMessage) error {
	parsed, err := s.parseAll(entities)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.store(parsed)
	return nil
}

// Delete removes (unpublishes) entities by id, at once. An id removes every
// entity with that id, entry or asset, because Contentful ids are unique per
// type only; to remove just one of them, qualify the id as "Entry:<id>" or
// "Asset:<id>" (real ids cannot contain a colon). Unknown ids are ignored.
func (s *Server) Delete(ids ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.remove(ids)
}

// Load stores the entries and assets of a document of the form
// {"entries":[...],"assets":[...]}, as Put does, so that demo content and test
// data can live in one file. Each entity must have the sys.type of the list it
// is in. Nothing is stored unless the whole document is valid.
func (s *Server) Load(doc []byte) error {
	var d struct {
		Entries []json.RawMessage `json:"entries"`
		Assets  []json.RawMessage `json:"assets"`
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return fmt.Errorf("localapi: load: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("localapi: load: data after the document")
	}
	var all []*entity
	for _, list := range []struct {
		name, typ string
		raw       []json.RawMessage
	}{{"entries", typeEntry, d.Entries}, {"assets", typeAsset, d.Assets}} {
		parsed, err := s.parseAll(list.raw)
		if err != nil {
			return fmt.Errorf("localapi: load %s: %w", list.name, err)
		}
		for i, e := range parsed {
			if e.key.typ != list.typ {
				return fmt.Errorf("localapi: load %s[%d]: sys.type is %q, want %q", list.name, i, e.key.typ, list.typ)
			}
		}
		all = append(all, parsed...)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.store(all)
	return nil
}

// PutLagged validates and records entities like Put, but the API keeps serving
// the previous content until ReleaseLag is called. This reproduces the lag of
// Contentful's CDN, which can serve an old revision for seconds to minutes
// after a publish webhook has fired.
func (s *Server) PutLagged(entities ...json.RawMessage) error {
	parsed, err := s.parseAll(entities)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending = append(s.pending, change{put: parsed})
	return nil
}

// DeleteLagged records a deletion like Delete, but the API keeps serving the
// entities until ReleaseLag is called, as Contentful's CDN does after an
// unpublish webhook.
func (s *Server) DeleteLagged(ids ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending = append(s.pending, change{del: slices.Clone(ids)})
}

// ReleaseLag makes every change recorded by PutLagged and DeleteLagged
// visible, in the order they were recorded, on top of the current content
// (the CDN purge has happened).
func (s *Server) ReleaseLag() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.pending {
		s.store(c.put)
		s.remove(c.del)
	}
	s.pending = nil
}

// Script appends faults to the queue consumed by requests to the entries
// endpoints, so tests can reproduce rate limiting, outages, malformed answers
// and slow answers in a precise order.
func (s *Server) Script(faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, faults...)
}

// SetDelay makes every request wait d before it is handled, to simulate a
// slow API. A request whose context is cancelled during the wait is abandoned
// without an answer. Zero removes the delay.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// SetToken changes the access token the Server accepts, so that tests can
// simulate a revoked or rotated token. Requests with any other token are
// answered 401 AccessTokenInvalid.
func (s *Server) SetToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token = token
}

// Requests returns a copy of every request recorded since New or the last
// Reset, in the order they arrived, so tests can inspect how a client used
// the API.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	for i, r := range s.requests {
		out[i] = Request{Path: r.Path, Query: cloneValues(r.Query), Status: r.Status}
	}
	return out
}

// Count returns how many recorded requests satisfy filter, or all of them
// when filter is nil; it saves tests from looping over Requests. filter is
// called without the Server's lock held, so it may call the Server.
func (s *Server) Count(filter func(Request) bool) int {
	n := 0
	for _, r := range s.Requests() {
		if filter == nil || filter(r) {
			n++
		}
	}
	return n
}

// Reset forgets the recorded requests, so a test can count only what happens
// after a point. Content, faults, delay and token are kept.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
}

// ServeHTTP answers one Delivery API request. It is safe for concurrent use
// with itself and with every other method.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec, rid, delay := s.begin(r)
	sw := &statusWriter{ResponseWriter: w}
	sw.Header().Set("X-Contentful-Request-Id", rid)
	s.serve(sw, r, rid, delay)
	status := sw.status
	if status == 0 {
		status = statusClientClosed
	}
	s.mu.Lock()
	rec.Status = status
	s.mu.Unlock()
}

// begin records the request and returns its record, its request id and the
// delay to apply to it.
func (s *Server) begin(r *http.Request) (*Request, string, time.Duration) {
	rec := &Request{Path: r.URL.Path, Query: r.URL.Query()}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	s.requests = append(s.requests, rec)
	return rec, "localapi-" + strconv.FormatUint(s.seq, 10), s.delay
}

// serve does the work of ServeHTTP. It returns without writing anything when
// the client cancels the request during a delay.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, rid string, delay time.Duration) {
	if !sleep(r.Context(), delay) {
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, "MethodNotAllowed",
			"The Content Delivery API is read-only; use GET.", nil, rid)
		return
	}
	rt, ok := parseRoute(r.URL.Path)
	if !ok {
		writeError(w, http.StatusNotFound, "NotFound", "The resource could not be found.", nil, rid)
		return
	}
	if rt.resource == "entries" {
		if f, ok := s.nextFault(); ok {
			if !sleep(r.Context(), f.Delay) {
				return
			}
			if f.Status != 0 || f.Malformed {
				writeFault(w, f, rid)
				return
			}
		}
	}
	if !s.authorized(r) {
		writeError(w, http.StatusUnauthorized, "AccessTokenInvalid",
			"The access token you sent could not be found or is invalid.", nil, rid)
		return
	}
	if rt.space != s.space {
		writeError(w, http.StatusNotFound, "NotFound", "The resource could not be found.",
			map[string]any{"type": "Space", "id": rt.space}, rid)
		return
	}
	if rt.environment != s.environment {
		writeError(w, http.StatusNotFound, "NotFound", "The resource could not be found.",
			map[string]any{"type": "Environment", "space": rt.space, "id": rt.environment}, rid)
		return
	}
	typ := typeEntry
	if rt.resource == "assets" {
		typ = typeAsset
	}
	q, qerr := parseQuery(r.URL.Query(), typ)
	if qerr != nil {
		writeError(w, http.StatusBadRequest, "InvalidQuery", qerr.message,
			map[string]any{"errors": []any{map[string]any{"name": qerr.name, "path": []string{qerr.param}}}}, rid)
		return
	}
	snap := s.snapshot()
	if rt.id != "" {
		e, ok := snap.byKey[entityKey{typ, rt.id}]
		if !ok {
			writeError(w, http.StatusNotFound, "NotFound", "The resource could not be found.",
				map[string]any{"type": typ, "id": rt.id, "space": s.space, "environment": s.environment}, rid)
			return
		}
		writeJSON(w, http.StatusOK, render(e, q.locale, nil))
		return
	}
	writeJSON(w, http.StatusOK, s.collection(snap, typ, q))
}

// nextFault pops the next scripted fault, if any.
func (s *Server) nextFault() (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.faults) == 0 {
		return Fault{}, false
	}
	f := s.faults[0]
	s.faults = s.faults[1:]
	return f, true
}

// authorized reports whether the request carries the accepted token, in the
// Authorization header or, when that is absent, in access_token.
func (s *Server) authorized(r *http.Request) bool {
	s.mu.Lock()
	want := s.token
	s.mu.Unlock()
	var got string
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return false
		}
		got = strings.TrimSpace(tok)
	} else {
		got = r.URL.Query().Get("access_token")
	}
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// snapshot returns the current sorted view of the content, building it if a
// change invalidated the last one.
func (s *Server) snapshot() *snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.snap != nil {
		return s.snap
	}
	sn := &snapshot{byKey: maps.Clone(s.live)}
	for _, e := range s.live {
		if e.key.typ == typeEntry {
			sn.entries = append(sn.entries, e)
		} else {
			sn.assets = append(sn.assets, e)
		}
	}
	byID := func(a, b *entity) int { return strings.Compare(a.key.id, b.key.id) }
	slices.SortFunc(sn.entries, byID)
	slices.SortFunc(sn.assets, byID)
	s.snap = sn
	return sn
}

// store puts parsed entities into the live content. The caller holds s.mu.
func (s *Server) store(es []*entity) {
	for _, e := range es {
		s.live[e.key] = e
	}
	if len(es) > 0 {
		s.snap = nil
	}
}

// remove deletes entities by id, plain or qualified as "Entry:id"/"Asset:id".
// The caller holds s.mu.
func (s *Server) remove(ids []string) {
	for _, id := range ids {
		types := []string{typeEntry, typeAsset}
		if t, rest, ok := strings.Cut(id, ":"); ok && (t == typeEntry || t == typeAsset) {
			types, id = []string{t}, rest
		}
		for _, t := range types {
			if _, ok := s.live[entityKey{t, id}]; ok {
				delete(s.live, entityKey{t, id})
				s.snap = nil
			}
		}
	}
}

// parseAll parses and validates entities, failing on the first invalid one.
func (s *Server) parseAll(raws []json.RawMessage) ([]*entity, error) {
	out := make([]*entity, 0, len(raws))
	for i, raw := range raws {
		e, err := s.parseEntity(raw)
		if err != nil {
			return nil, fmt.Errorf("localapi: entity %d: %w", i, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// parseEntity decodes one entity, validates it, fills its missing space and
// environment links and indexes its links.
func (s *Server) parseEntity(raw json.RawMessage) (*entity, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // keep numbers exactly as given, e.g. 52.52000659999999
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("invalid JSON: data after the entity")
	}
	doc, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("not a JSON object")
	}
	sys, ok := doc["sys"].(map[string]any)
	if !ok {
		return nil, errors.New("missing sys object")
	}
	typ, _ := sys["type"].(string)
	if typ != typeEntry && typ != typeAsset {
		return nil, fmt.Errorf("sys.type is %q, want Entry or Asset", typ)
	}
	id, _ := sys["id"].(string)
	if id == "" {
		return nil, errors.New("sys.id is missing or not a non-empty string")
	}
	e := &entity{key: entityKey{typ, id}, doc: doc}
	if typ == typeEntry {
		e.contentType = linkID(sys["contentType"])
		if e.contentType == "" {
			return nil, fmt.Errorf("entry %q has no sys.contentType.sys.id", id)
		}
	}
	if f, ok := doc["fields"]; ok && f != nil {
		if _, ok := f.(map[string]any); !ok {
			return nil, fmt.Errorf("%s %q: fields is not an object", typ, id)
		}
	}
	if _, ok := sys["space"]; !ok {
		sys["space"] = map[string]any{"sys": map[string]any{"type": "Link", "linkType": "Space", "id": s.space}}
	}
	if _, ok := sys["environment"]; !ok {
		sys["environment"] = map[string]any{"sys": map[string]any{"id": s.environment, "type": "Link", "linkType": "Environment"}}
	}
	seen := make(map[entityKey]bool)
	collectLinks(doc["fields"], func(k entityKey) {
		if !seen[k] {
			seen[k] = true
			e.links = append(e.links, k)
		}
	})
	return e, nil
}

// linkID returns v.sys.id when v is an object of that shape, else "".
func linkID(v any) string {
	m, _ := v.(map[string]any)
	sys, _ := m["sys"].(map[string]any)
	id, _ := sys["id"].(string)
	return id
}

// asLink reports whether v is a link to an Entry or Asset, e.g.
// {"sys":{"type":"Link","linkType":"Asset","id":"x"}}, and returns its target.
func asLink(v map[string]any) (entityKey, bool) {
	sys, ok := v["sys"].(map[string]any)
	if !ok || sys["type"] != "Link" {
		return entityKey{}, false
	}
	lt, _ := sys["linkType"].(string)
	id, _ := sys["id"].(string)
	if (lt != typeEntry && lt != typeAsset) || id == "" {
		return entityKey{}, false
	}
	return entityKey{lt, id}, true
}

// collectLinks calls add for every Entry or Asset link anywhere in v, in a
// deterministic order (object keys sorted), including links nested in rich
// text documents (data.target).
func collectLinks(v any, add func(entityKey)) {
	switch t := v.(type) {
	case map[string]any:
		if k, ok := asLink(t); ok {
			add(k)
			return
		}
		for _, key := range slices.Sorted(maps.Keys(t)) {
			collectLinks(t[key], add)
		}
	case []any:
		for _, x := range t {
			collectLinks(x, add)
		}
	}
}

// route is a parsed request path.
type route struct {
	space, environment string
	resource           string // "entries" or "assets"
	id                 string // set for a single entity
}

// parseRoute recognises /spaces/{space}[/environments/{env}]/{entries|assets}[/{id}].
func parseRoute(path string) (route, bool) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	if len(segs) < 3 || segs[0] != "spaces" || segs[1] == "" {
		return route{}, false
	}
	rt := route{space: segs[1], environment: "master"}
	rest := segs[2:]
	if len(rest) >= 3 && rest[0] == "environments" && rest[1] != "" {
		rt.environment = rest[1]
		rest = rest[2:]
	}
	if rest[0] != "entries" && rest[0] != "assets" {
		return route{}, false
	}
	rt.resource = rest[0]
	switch {
	case len(rest) == 1:
	case len(rest) == 2 && rest[1] != "":
		rt.id = rest[1]
	default:
		return route{}, false
	}
	return rt, true
}

// query is a parsed collection query.
type query struct {
	include int
	limit   int
	skip    int
	order   []orderKey
	filters []filter
	locale  string
	sel     *selection
}

// filter is one sys.* or fields.* condition.
type filter struct {
	path   []string
	op     string // "" for equality
	values []string
}

// orderKey is one term of the order parameter.
type orderKey struct {
	path []string
	desc bool
}

// selection is a parsed select parameter: whole top-level objects ("sys") or
// some of their keys ("fields.title").
type selection struct {
	whole map[string]bool
	keys  map[string][]string
}

// queryError describes a rejected query parameter.
type queryError struct {
	param   string
	name    string
	message string
}

// unsupportedParams are real Delivery API parameters this Server does not
// implement. They are refused rather than ignored, because ignoring them would
// return unfiltered results that look plausible.
var unsupportedParams = map[string]bool{
	"query": true, "links_to_entry": true, "links_to_asset": true,
}

// supportedOps are the filter operators this Server implements.
var supportedOps = map[string]bool{
	"": true, "ne": true, "in": true, "nin": true, "all": true, "exists": true,
	"lt": true, "lte": true, "gt": true, "gte": true,
}

// parseQuery parses and validates the query parameters of a request for
// entities of type typ.
func parseQuery(vals url.Values, typ string) (*query, *queryError) {
	q := &query{include: defaultInclude, limit: defaultLimit}
	var contentTypes []string // single-valued content type constraints
	needsContentType := ""    // a parameter that requires a content type
	single := func(p string) (string, *queryError) {
		if len(vals[p]) != 1 {
			return "", &queryError{p, "duplicate", fmt.Sprintf("The parameter %q may be given only once.", p)}
		}
		return vals[p][0], nil
	}
	number := func(p string, lo, hi int) (int, *queryError) {
		v, qe := single(p)
		if qe != nil {
			return 0, qe
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			return 0, &queryError{p, "range", fmt.Sprintf("The value %q of %q must be an integer from %d to %d.", v, p, lo, hi)}
		}
		return n, nil
	}
	for _, p := range slices.Sorted(maps.Keys(vals)) {
		var qe *queryError
		switch {
		case p == "include":
			q.include, qe = number(p, 0, maxInclude)
		case p == "limit":
			q.limit, qe = number(p, 0, maxLimit)
		case p == "skip":
			q.skip, qe = number(p, 0, math.MaxInt)
		case p == "locale":
			q.locale, qe = single(p)
			if qe == nil && (q.locale == "" || q.locale == "*") {
				qe = &queryError{p, "unsupported", "locale must name one locale; this local API holds single-locale content and does not support locale=*."}
			}
		case p == "content_type":
			if typ != typeEntry {
				continue // meaningless for assets; ignored
			}
			var ct string
			if ct, qe = single(p); qe == nil {
				if ct == "" {
					qe = &queryError{p, "empty", "content_type must not be empty."}
				}
				contentTypes = append(contentTypes, ct)
				q.filters = append(q.filters, filter{path: []string{"sys", "contentType", "sys", "id"}, values: []string{ct}})
			}
		case p == "order":
			var v string
			if v, qe = single(p); qe == nil {
				q.order, qe = parseOrder(v)
				for _, k := range q.order {
					if k.path[0] == "fields" && needsContentType == "" {
						needsContentType = p
					}
				}
			}
		case p == "select":
			var v string
			if v, qe = single(p); qe == nil {
				var fieldKeys bool
				q.sel, fieldKeys, qe = parseSelect(v)
				if fieldKeys && needsContentType == "" {
					needsContentType = p
				}
			}
		case unsupportedParams[p]:
			qe = &queryError{p, "unsupported", fmt.Sprintf("The parameter %q is not supported by this local Delivery API.", p)}
		case strings.HasPrefix(p, "sys.") || strings.HasPrefix(p, "fields.") || strings.HasPrefix(p, "metadata."):
			var fs []filter
			fs, qe = parseFilter(p, vals[p])
			q.filters = append(q.filters, fs...)
			if qe == nil && p == "sys.contentType.sys.id" && len(vals[p]) == 1 {
				contentTypes = append(contentTypes, vals[p][0])
			}
			if strings.HasPrefix(p, "fields.") && needsContentType == "" {
				needsContentType = p
			}
		}
		if qe != nil {
			return nil, qe
		}
	}
	// Like Contentful, searching, ordering or selecting on fields needs the
	// entries narrowed to one content type (the real API needs it to know
	// the fields' types).
	distinctTypes := slices.Compact(slices.Sorted(slices.Values(contentTypes)))
	if typ == typeEntry && needsContentType != "" && len(distinctTypes) != 1 {
		return nil, &queryError{needsContentType, "contentTypeRequired", fmt.Sprintf(
			"Searching, ordering or selecting on fields (%q) requires exactly one content type: add content_type=<id>.", needsContentType)}
	}
	return q, nil
}

// parseFilter parses a filter parameter such as fields.slug or sys.id[in].
func parseFilter(p string, values []string) ([]filter, *queryError) {
	name, op := p, ""
	if i := strings.IndexByte(p, '['); i >= 0 {
		if !strings.HasSuffix(p, "]") {
			return nil, &queryError{p, "syntax", fmt.Sprintf("The parameter %q is malformed.", p)}
		}
		name, op = p[:i], p[i+1:len(p)-1]
	}
	if !supportedOps[op] {
		return nil, &queryError{p, "unsupported", fmt.Sprintf("The operator [%s] in %q is not supported by this local Delivery API.", op, p)}
	}
	path := strings.Split(name, ".")
	if slices.Contains(path, "") {
		return nil, &queryError{p, "syntax", fmt.Sprintf("The parameter %q names an empty attribute.", p)}
	}
	var out []filter
	for _, v := range values {
		f := filter{path: path, op: op, values: []string{v}}
		switch op {
		case "in", "nin", "all":
			f.values = strings.Split(v, ",")
		case "exists":
			if v != "true" && v != "false" {
				return nil, &queryError{p, "syntax", fmt.Sprintf("The value of %q must be true or false.", p)}
			}
		}
		out = append(out, f)
	}
	return out, nil
}

// parseOrder parses an order parameter such as -fields.publishDate,sys.id.
func parseOrder(v string) ([]orderKey, *queryError) {
	var keys []orderKey
	for term := range strings.SplitSeq(v, ",") {
		k := orderKey{}
		if rest, ok := strings.CutPrefix(term, "-"); ok {
			k.desc, term = true, rest
		}
		k.path = strings.Split(term, ".")
		if len(k.path) < 2 || (k.path[0] != "sys" && k.path[0] != "fields") || slices.Contains(k.path, "") {
			return nil, &queryError{"order", "syntax", fmt.Sprintf("The order term %q must be [-]sys.<attribute> or [-]fields.<field>.", term)}
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// parseSelect parses a select parameter such as sys.id,fields.title. It also
// reports whether individual fields are selected, which requires a content
// type on the entries endpoint.
func parseSelect(v string) (*selection, bool, *queryError) {
	sel := &selection{whole: map[string]bool{}, keys: map[string][]string{}}
	fieldKeys := false
	for term := range strings.SplitSeq(v, ",") {
		parts := strings.Split(term, ".")
		top := parts[0]
		if (top != "sys" && top != "fields" && top != "metadata") || len(parts) > 2 || slices.Contains(parts, "") {
			return nil, false, &queryError{"select", "syntax", fmt.Sprintf(
				"The select term %q must be sys, fields or metadata, optionally followed by one .<attribute>.", term)}
		}
		if len(parts) == 1 {
			sel.whole[top] = true
		} else {
			sel.keys[top] = append(sel.keys[top], parts[1])
			fieldKeys = fieldKeys || top == "fields"
		}
	}
	return sel, fieldKeys, nil
}

// apply returns a copy of doc holding only the selected parts.
func (sel *selection) apply(doc map[string]any) map[string]any {
	out := make(map[string]any)
	for _, top := range []string{"fields", "metadata", "sys"} {
		src, ok := doc[top]
		if !ok {
			continue
		}
		if sel.whole[top] {
			out[top] = src
			continue
		}
		keys := sel.keys[top]
		m, ok := src.(map[string]any)
		if len(keys) == 0 || !ok {
			continue
		}
		part := make(map[string]any)
		for _, k := range keys {
			if v, ok := m[k]; ok {
				part[k] = v
			}
		}
		out[top] = part
	}
	return out
}

// linkError is one entry of a collection's "errors": a link that could not be
// resolved because its target is not published.
type linkError struct {
	Sys struct {
		ID   string `json:"id"`
		Type string `json:"type"`
	} `json:"sys"`
	Details struct {
		Type     string `json:"type"`
		LinkType string `json:"linkType"`
		ID       string `json:"id"`
	} `json:"details"`
}

// includes is a collection's "includes". Empty lists are omitted.
type includes struct {
	Entry []any `json:"Entry,omitempty"`
	Asset []any `json:"Asset,omitempty"`
}

// arrayResponse is a collection answer, fields in the API's order.
type arrayResponse struct {
	Sys struct {
		Type string `json:"type"`
	} `json:"sys"`
	Total    int         `json:"total"`
	Skip     int         `json:"skip"`
	Limit    int         `json:"limit"`
	Items    []any       `json:"items"`
	Includes *includes   `json:"includes,omitempty"`
	Errors   []linkError `json:"errors,omitempty"`
}

// collection filters, orders and pages the entities of type typ and resolves
// the page's links.
func (s *Server) collection(snap *snapshot, typ string, q *query) *arrayResponse {
	all := snap.entries
	if typ == typeAsset {
		all = snap.assets
	}
	var matched []*entity
	for _, e := range all {
		if matchesAll(e, q.filters) {
			matched = append(matched, e)
		}
	}
	if len(q.order) > 0 {
		// matched is in sys.id order, so the stable sort breaks ties by sys.id.
		slices.SortStableFunc(matched, func(a, b *entity) int { return compareOrder(a, b, q.order) })
	}
	resp := &arrayResponse{Total: len(matched), Skip: q.skip, Limit: q.limit, Items: []any{}}
	resp.Sys.Type = "Array"
	lo := min(q.skip, len(matched))
	hi := min(lo+q.limit, len(matched))
	page := matched[lo:hi]
	for _, e := range page {
		resp.Items = append(resp.Items, render(e, q.locale, q.sel))
	}
	inc, missing := resolve(snap, page, q.include)
	var out includes
	for _, e := range inc {
		if e.key.typ == typeEntry {
			out.Entry = append(out.Entry, render(e, q.locale, nil))
		} else {
			out.Asset = append(out.Asset, render(e, q.locale, nil))
		}
	}
	if len(out.Entry) > 0 || len(out.Asset) > 0 {
		resp.Includes = &out
	}
	for _, k := range missing {
		var le linkError
		le.Sys.ID, le.Sys.Type = "notResolvable", "error"
		le.Details.Type, le.Details.LinkType, le.Details.ID = "Link", k.typ, k.id
		resp.Errors = append(resp.Errors, le)
	}
	return resp
}

// resolve follows links from the page's items breadth-first, depth levels
// deep. It returns the entities reached that are not items themselves, and the
// links whose targets do not exist, each once and sorted by type and id.
// Visiting each entity once keeps cycles among entries from looping.
func resolve(snap *snapshot, items []*entity, depth int) (included []*entity, missing []entityKey) {
	seen := make(map[entityKey]bool, len(items))
	for _, e := range items {
		seen[e.key] = true
	}
	frontier := items
	for level := 0; level < depth && len(frontier) > 0; level++ {
		var next []*entity
		for _, e := range frontier {
			for _, k := range e.links {
				if seen[k] {
					continue
				}
				seen[k] = true
				if t, ok := snap.byKey[k]; ok {
					included = append(included, t)
					next = append(next, t)
				} else {
					missing = append(missing, k)
				}
			}
		}
		frontier = next
	}
	slices.SortFunc(included, func(a, b *entity) int { return compareKeys(a.key, b.key) })
	slices.SortFunc(missing, compareKeys)
	return included, missing
}

// compareKeys orders keys by type, then id.
func compareKeys(a, b entityKey) int {
	return cmp.Or(strings.Compare(a.typ, b.typ), strings.Compare(a.id, b.id))
}

// render returns the entity as served: with sys.locale set to locale when one
// was requested, reduced to sel when given. The stored document is never
// modified.
func render(e *entity, locale string, sel *selection) map[string]any {
	doc := e.doc
	if locale != "" {
		doc = maps.Clone(doc)
		sys := maps.Clone(doc["sys"].(map[string]any))
		sys["locale"] = locale
		doc["sys"] = sys
	}
	if sel != nil {
		doc = sel.apply(doc)
	}
	return doc
}

// values returns the non-null values at path in doc. Arrays met on the way or
// at the end are flattened, so fields.tags=go matches an entry whose tags
// contain "go", as in the real API.
func values(doc map[string]any, path []string) []any {
	cur := []any{doc}
	for _, seg := range path {
		var next []any
		for _, c := range cur {
			m, ok := c.(map[string]any)
			if !ok {
				continue
			}
			switch v := m[seg].(type) {
			case nil:
			case []any:
				next = append(next, v...)
			default:
				next = append(next, v)
			}
		}
		cur = next
	}
	return slices.DeleteFunc(cur, func(v any) bool { return v == nil })
}

// matchesAll reports whether e satisfies every filter.
func matchesAll(e *entity, fs []filter) bool {
	for _, f := range fs {
		if !matches(e, f) {
			return false
		}
	}
	return true
}

// matches reports whether e satisfies f.
func matches(e *entity, f filter) bool {
	vs := values(e.doc, f.path)
	anyEq := func(want string) bool {
		return slices.ContainsFunc(vs, func(v any) bool { return equalsParam(v, want) })
	}
	anyIn := func() bool { return slices.ContainsFunc(f.values, anyEq) }
	switch f.op {
	case "":
		return anyEq(f.values[0])
	case "ne":
		return !anyEq(f.values[0])
	case "in":
		return anyIn()
	case "nin":
		return !anyIn()
	case "all":
		for _, want := range f.values {
			if !anyEq(want) {
				return false
			}
		}
		return true
	case "exists":
		return (len(vs) > 0) == (f.values[0] == "true")
	default: // lt, lte, gt, gte
		return slices.ContainsFunc(vs, func(v any) bool {
			c, ok := compareParam(v, f.values[0])
			if !ok {
				return false
			}
			switch f.op {
			case "lt":
				return c < 0
			case "lte":
				return c <= 0
			case "gt":
				return c > 0
			default:
				return c >= 0
			}
		})
	}
}

// equalsParam reports whether the JSON value v equals the query value s,
// read as v's type.
func equalsParam(v any, s string) bool {
	c, ok := compareParam(v, s)
	return ok && c == 0
}

// compareParam compares the JSON value v with the query value s read as v's
// type. ok is false when s cannot be read so or v is not a scalar.
func compareParam(v any, s string) (c int, ok bool) {
	switch t := v.(type) {
	case string:
		return strings.Compare(t, s), true
	case json.Number:
		a, err1 := t.Float64()
		b, err2 := strconv.ParseFloat(s, 64)
		if err1 != nil || err2 != nil {
			return 0, false
		}
		return cmp.Compare(a, b), true
	case bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return 0, false
		}
		return compareBools(t, b), true
	}
	return 0, false
}

// compareBools orders false before true.
func compareBools(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

// compareOrder compares two entities by the order keys. Missing values sort
// last whatever the direction.
func compareOrder(a, b *entity, keys []orderKey) int {
	for _, k := range keys {
		va, vb := values(a.doc, k.path), values(b.doc, k.path)
		switch {
		case len(va) == 0 && len(vb) == 0:
			continue
		case len(va) == 0:
			return 1
		case len(vb) == 0:
			return -1
		}
		c := compareValues(va[0], vb[0])
		if k.desc {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

// compareValues orders JSON scalars: numbers numerically, strings
// lexicographically (so ISO 8601 dates in one format sort in time order),
// booleans false first. Values of different kinds order numbers, strings,
// booleans, then anything else.
func compareValues(a, b any) int {
	ra, rb := kindRank(a), kindRank(b)
	if ra != rb {
		return cmp.Compare(ra, rb)
	}
	switch x := a.(type) {
	case json.Number:
		fa, _ := x.Float64()
		fb, _ := b.(json.Number).Float64()
		return cmp.Compare(fa, fb)
	case string:
		return strings.Compare(x, b.(string))
	case bool:
		return compareBools(x, b.(bool))
	}
	return 0
}

// kindRank orders the kinds of JSON values for compareValues.
func kindRank(v any) int {
	switch v.(type) {
	case json.Number:
		return 0
	case string:
		return 1
	case bool:
		return 2
	}
	return 3
}

// sleep waits d or until ctx is done, and reports whether the wait completed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// errorIDs maps the statuses a Fault may carry to Contentful's error ids.
var errorIDs = map[int]string{
	http.StatusBadRequest:          "BadRequest",
	http.StatusUnauthorized:        "AccessTokenInvalid",
	http.StatusForbidden:           "AccessDenied",
	http.StatusNotFound:            "NotFound",
	http.StatusTooManyRequests:     "RateLimitExceeded",
	http.StatusInternalServerError: "ServerError",
	http.StatusBadGateway:          "BadGateway",
	http.StatusServiceUnavailable:  "ServiceUnavailable",
	http.StatusGatewayTimeout:      "GatewayTimeout",
}

// writeFault answers with a scripted fault's status and body.
func writeFault(w http.ResponseWriter, f Fault, rid string) {
	status := f.Status
	if status == 0 {
		status = http.StatusOK
	}
	if status == http.StatusTooManyRequests {
		w.Header().Set("X-Contentful-RateLimit-Reset", strconv.Itoa(f.Reset))
	}
	if f.Malformed {
		writeBody(w, status, []byte(malformedBody))
		return
	}
	id := errorIDs[status]
	if id == "" {
		id = strings.ReplaceAll(http.StatusText(status), " ", "")
	}
	msg := http.StatusText(status)
	if status == http.StatusTooManyRequests {
		msg = "Ratelimit Exceeded" // exactly as in fixtures/contentful/ratelimit.json
	}
	writeError(w, status, id, msg, nil, rid)
}

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

// statusWriter records the status written through it, for Request.Status.
type statusWriter struct {
	http.ResponseWriter
	status int
}

// WriteHeader records status and passes it on.
func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

// Write records an implicit 200 and passes b on.
func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// cloneValues returns a deep copy of v.
func cloneValues(v url.Values) url.Values {
	if v == nil {
		return nil
	}
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}
