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
//   - links_to_entry=<id> and links_to_asset=<id> (Contentful's "incoming
//     links"): only the entries that link to that entry or asset, combinable
//     with every other parameter (content_type, filters, order, limit, skip,
//     include, locale, select) and answered with "includes" as usual;
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
//   - Incoming links count a link anywhere in an entry's fields: a Link
//     field, an array of links, and a rich text document's nodes
//     (entry-hyperlink, embedded-entry-block and -inline, asset-hyperlink,
//     embedded-asset-block), the same links include resolves. Contentful
//     documents the parameters as "entries that have a field linking to" the
//     target; that rich text references count is this API's reading, chosen
//     because the real API resolves rich text links like any other. A link
//     counts whether or not its target is published. Each parameter takes
//     one id (a comma is refused), may be given once, and is refused on the
//     assets endpoint; given both, an entry must link to both targets.
//   - Parameters the real API supports but this one does not (query,
//     [match], [near], [within] ...) are refused with 400 InvalidQuery, so a
//     client relying on them fails loudly instead of receiving silently
//     unfiltered results. Other unknown parameters are ignored, as Contentful
//     does.
//   - Each unresolvable link is reported once in "errors" (the real API may
//     repeat it), and "includes" and "errors" are sorted by id.
//   - Methods other than GET and HEAD are answered 405 with a
//     Contentful-shaped "MethodNotAllowed" error.
//   - Request ids (X-Contentful-Request-Id and requestId) are "localapi-<n>",
//     n counting the Server's requests, so answers stay deterministic.
package localapi
