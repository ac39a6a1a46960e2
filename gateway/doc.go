// Package gateway is a pluggable Web of Things gateway: an http.Handler that
// exposes devices as Web Things, asks an Authorizer before every access, and
// speaks to two ecosystems unmodified: W3C WoT consumers (Thing Description
// 1.1 forms over the HTTP binding, Server-Sent Events, a WoT Discovery
// directory) and the WebThings ecosystem (the Web Thing REST and WebSocket
// API of the webthing libraries).
//
// # Tour
//
// Devices plug in through an Adapter. The Server writes every form, base and
// security definition itself; the adapter only describes its things and
// answers for them:
//
//	gw, err := gateway.New(gateway.Config{
//		Authorizer: ledger,                  // decides every access (package consent implements it)
//		Logger:     logger,                  // nil discards
//		History:    gateway.NewHistory(gateway.HistoryConfig{}),
//		WebThings:  gateway.WebThings{Layout: gateway.WebThingsMulti, Path: "/webthings"},
//	})
//	if err != nil { ... }
//	gw.AddAdapter(ctx, lights)               // things appear; more adapters may follow at any time
//	srv := gateway.RecommendedHTTPServer(":8443", gw)
//	srv.RegisterOnShutdown(func() { gw.Close() })
//	srv.ListenAndServeTLS(cert, key)
//
// The caller owns the listener, TLS and the http.Server. The zero Config
// works: without an Authorizer the Server serves its directory description
// and refuses everything else with 401.
//
// # The W3C WoT surface
//
// GET /things/{id} returns the thing's TD 1.1 with forms for every operation
// the adapter offers and the caller may use: readproperty (GET → the raw JSON
// value), writeproperty (PUT raw JSON → 204), observeproperty (GET
// …/properties/{name}/observable, an SSE stream of values), invokeaction
// (POST → 201 with a Location and an ActionStatus for asynchronous actions,
// 200 with the output when the TD says "synchronous": true), queryaction
// and cancelaction (GET and DELETE on the Location), subscribeevent (an SSE
// stream), and the thing-level readallproperties, readmultipleproperties
// (GET …/properties?name=a&name=b), writemultipleproperties,
// queryallactions and subscribeallevents (one SSE stream whose events are
// named). The TD's base comes from the request; forwarded headers are
// honoured only from Config.TrustedProxies. Its security definitions
// describe the real scheme: oauth2 (code flow) when Config.Security names the
// endpoints, bearer otherwise.
//
// Every TD's @context opens with the TD 1.0 then the TD 1.1 context URI,
// the backward-compatible form TD 1.1 allows, so TD 1.0 consumers accept
// it too. Eclipse Thingweb node-wot consumes these TDs unmodified; the
// interop test in gateway/internal/interop lists what it can and cannot do
// (its SSE client sends no credentials).
//
// /.well-known/wot serves the directory's own TD (public: it holds no
// personal data) and GET /things the Things API listing, sorted by id, with
// ?offset= and ?limit= pagination and a Link rel="next" header.
//
// Errors are RFC 9457 problem details: 400 for a value its DataSchema rejects
// (validated with package thing before the adapter sees it) or a malformed
// body, 404 for an unknown thing or affordance, 405 for an operation the
// affordance does not offer (writing a read-only property), 413 for an
// oversized body, 501 for a capability the adapter lacks, 502 when the device
// fails and 504 when it does not answer within Config.DeviceTimeout.
//
// # The WebThings surface
//
// With Config.WebThings set, the Server also serves the Web Thing API as the
// webthing-python/node libraries do, in their single-thing layout (the thing
// at the mount path) or multi-thing layout (a list at the mount path, each
// thing at mount/<index>): the legacy TD with "links", wrapped bodies
// ({"name": value}, PUT answered 200), the action queue (created → pending →
// completed, DELETE cancels), the event list, their timestamp format, and the
// WebSocket at the thing's own URL (setProperty, requestAction and
// addEventSubscription in; propertyStatus, actionStatus, event and error
// out). Browsers pass the token as ?jwt= on the WebSocket URL, since they
// cannot set headers there. examples/webthing-lamp passes the WebThings
// conformance tester (webthing-tester's test-client.py) in both layouts.
//
// # Writing an adapter
//
// An adapter implements Adapter: Things lists thing descriptions (ids,
// titles, @types and affordances with their data schemas: package thing's
// builder writes them in a few lines) and ReadProperty reads a value. Every
// other capability is optional and discovered by type assertion, as
// database/sql/driver does:
//
//   - PropertyWriter: writable properties. Values arrive already validated
//     against the property's schema, decoded as encoding/json decodes into an
//     any (numbers are float64).
//   - ActionInvoker: actions, likewise validated. Asynchronous actions run in
//     a goroutine of the Server, whose ctx is cancelled by cancelaction or
//     Close; honour it.
//   - EventSource: the adapter pushes property changes, events and things
//     appearing or disappearing to the Sink it is given. Report changes the
//     device makes on its own and those a write causes alike: the Server
//     notifies observers once per distinct value. The Server subscribes
//     before it lists the adapter's things; call Live on the Sink (a
//     LiveSink) once it is registered, and no thing added meanwhile is lost.
//   - Remover and Pairer: Server.RemoveThing and Server.StartPairing.
//
// Return errors wrapping ErrNotFound for unknown things or affordances (404);
// a context deadline becomes 504, anything else 502 (its text is logged, not
// shown to clients). Adapter methods are called concurrently and must be
// safe for it. Package gatewaytest has an in-memory Adapter for tests, and
// gateway/virtual and gateway/webthing are adapters shipped with Hearth.
//
// # Authorization
//
// Every request and every WebSocket or SSE message asks the Authorizer about
// (thing, op, affordance), with the TD 1.1 op words (thing.Op*). A token
// comes from the Authorization header (Bearer), or from ?jwt= for WebSocket
// upgrades; it is never logged. An error wrapping access.ErrInvalidToken is
// answered 401 with WWW-Authenticate: Bearer; a Decision that does not allow
// the request, 403 with error="insufficient_scope". Ids and names are
// compared whole (a grant on thing "lamp" does not cover "lamp2"). Each
// caller sees a TD and a listing trimmed to what it may use; a thing it may
// use in no way is left out. Thing-level operations need both their own op
// and the op of each property, action or event they touch.
//
// When the Authorizer implements access.RevocationNotifier, the streams
// opened under a revoked grant (Decision.GrantID) close at once (well within
// a second); a revocation that names a token (Revocation.TokenID) closes only
// the streams opened with it (Decision.TokenID), and the grant's other
// tokens keep theirs. A revocation that arrives while a stream is opening
// (after the Authorizer allowed it, before the Server registered it) is
// not missed: the stream is refused with 401. A stream also closes when
// its token's Decision.Expires passes.
// When a Decision carries a Scope, the Server uses it for the messages of
// the stream opened with it instead of calling Authorize again.
//
// InsecureAllowAll allows everything and makes TDs say "nosec". It exists
// for development and interop tests with tools that know no authentication;
// never let anyone else reach a gateway that uses it.
//
// # Concurrency
//
// A Server is safe for concurrent use, and so are History and the Sink the
// Server gives an adapter. Adapters are called from many goroutines at
// once. A WebSocket connection has a reader goroutine and, while it has
// something to send, one writer goroutine (never two at once, as
// gorilla/websocket requires; an idle subscriber holds no writer). An SSE
// stream is written by its handler goroutine. A value a Sink reports is
// fanned out to the streams' queues without waiting for any consumer; one
// stream's slowness never delays another.
//
// Shutdown(ctx) refuses new requests and streams, closes open WebSocket
// streams with 1001 "going away" and ends SSE streams, lets running actions
// finish until ctx is done, cancels adapter subscriptions and waits for the
// Server's goroutines. Close does the same without waiting for actions. The
// http.Server does not track hijacked WebSocket connections, so call
// Shutdown or Close (or register Close with RegisterOnShutdown).
//
// # Privacy
//
// The Server logs no tokens, query strings or values; device errors are
// logged but not shown to clients. TDs and listings show each caller only
// what its token allows. Property history is recorded only when
// Config.History is set and only for the consents the Authorizer returns
// through access.HistoryPolicy (none: nothing is recorded). The values
// recorded are those adapters report through their Sink and those written
// through the gateway (reads are not recorded), once per consent, tagged with its data subject, grant and purpose, and purged when
// the consent's retention ends. History.ExportSubject and
// History.EraseSubject serve the subject's rights of access and erasure
// (a consent ledger calls them without importing this package). History is
// held in memory unless opened with OpenHistory and HistoryConfig.Dir: then
// it also keeps an append-only, checksummed file there that survives
// restarts, and rewrites it so that erased and expired values leave the
// file.
//
// Action requests belong to whoever made them: the data subject and client
// of the Decision that allowed them (Decision.Subject and ClientID). A
// caller lists, queries and cancels only its own requests, on the W3C
// surface (queryaction, queryallactions, cancelaction) and the WebThings
// API alike, and a WebThings WebSocket carries only its own caller's
// actionStatus messages; another caller's request answers 404, as if it
// did not exist. (Callers whose Decisions name neither subject nor client,
// such as everyone under InsecureAllowAll, share one queue. No grant lets a
// caller see other callers' requests.) A finished request is forgotten
// Config.ActionRetention (10 minutes) after it ended, and each thing keeps
// at most Config.MaxActions. The WebThings API's event list keeps the last
// Config.EventLog events per thing in memory, as that API requires, for
// Config.EventRetention (10 minutes); set EventLog negative to keep none.
// Server.EraseSubject removes a subject's action requests (cancelling
// those still running) and clears the event lists; register it with a
// consent ledger beside the History. Nothing is sent anywhere: no
// telemetry.
//
// # Hardening
//
//   - Request bodies and WebSocket messages are limited to
//     Config.MaxBodyBytes (64 KiB); larger ones get 413, or close the
//     WebSocket with 1009.
//   - Host headers are checked against DNS rebinding (Config.AllowedHosts;
//     by default IP literals, localhost and .local/.localhost/.home.arpa
//     names): a request for another host gets 421.
//   - CORS is off unless Config.CORS names origins; cross-origin WebSockets
//     are refused unless CORS allows the origin, and so (403) are
//     cross-origin POST, PUT and DELETE requests a browser sends without a
//     preflight (told by Sec-Fetch-Site, or Origin against Host), which
//     could otherwise run actions or write properties from any web page
//     the user visits.
//   - RecommendedHTTPServer sets the http.Server timeouts every example
//     uses; stream writes carry their own deadlines (Config.WriteTimeout).
//   - Slow-consumer policy: each stream has a bounded send queue
//     (Config.SendQueue messages). While a property's update waits, a newer
//     value of that property replaces it (coalescing: a slow consumer sees
//     fewer, newest values). Events, action statuses and replies are never
//     dropped silently: a consumer whose queue still overflows, or that does
//     not take a write within Config.WriteTimeout, is disconnected
//     (WebSocket close 1013 "try again later").
//   - A WebSocket connection may hold Config.MaxSubscriptions event
//     subscriptions; the Server at most Config.MaxStreams streams (503
//     beyond) and each thing Config.MaxActions action requests.
//   - Idle WebSocket clients are pinged; one silent for 75 s is dropped.
//     Idle SSE streams carry a comment every 25 s.
package gateway
