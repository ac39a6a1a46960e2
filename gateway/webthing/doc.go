// Package webthing is a gateway adapter that fronts remote Web Things by
// URL: a device that already speaks HTTP becomes a thing of the gateway,
// served under the gateway's access control, consent and history.
//
// Two kinds of remote are understood:
//
//   - W3C Thing Descriptions (TD 1.1 or 1.0) with forms. Each operation
//     uses the affordance's form for its op word (readproperty,
//     writeproperty, invokeaction), the HTTP binding's default method or
//     the form's htv:methodName, and raw JSON payloads. Asynchronous
//     actions (201 Created with a status resource) are polled to their end
//     and cancelled on the remote when the caller gives up. Observation and
//     events use Server-Sent Events forms (subprotocol "sse"): the
//     thing-level observeallproperties and subscribeallevents forms, or one
//     stream per affordance.
//   - The WebThings Web Thing API of the webthing-python, -node and -rust
//     libraries and the WebThings Gateway: descriptions with "links",
//     property bodies wrapped as {"name": value}, the action queue
//     (POST, then poll the request's href; DELETE to cancel), and the
//     WebSocket protocol (propertyStatus and event messages, after an
//     addEventSubscription for every event). A multiple-thing server's
//     array of descriptions adds every thing in it.
//
// # Tour
//
//	a := webthing.New(webthing.Config{})
//	defer a.Close()
//	tds, err := a.Add(ctx, webthing.Remote{URL: "http://192.168.1.20:8888/"})
//	// give a to a gateway; it reads, writes, invokes and subscribes.
//
// # Robustness
//
// Everything received from a remote is untrusted: response bodies are
// limited to Config.MaxBodyBytes, WebSocket messages and Server-Sent
// Events to Config.MaxMessageBytes, every request to Config.Timeout, and
// malformed input is an error wrapping ErrProtocol (or ErrTooLarge), never
// a panic. HTTP failures are *StatusError values that match
// gateway.ErrNotFound and gateway.ErrNotSupported where the status says
// so. Broken event streams are reopened with exponential back-off and
// jitter; WebSocket connections are pinged and dropped when silent.
//
// A description cannot send the adapter elsewhere: every URL it holds
// (forms, links, action status locations) must be on the host the
// description came from, or the operation fails with ErrForeignHost;
// Remote.AnyHost lifts this for directories that list other devices.
//
// # Concurrency
//
// An Adapter is safe for concurrent use. Each Subscribe call owns the
// goroutines of its connections and returns only after they have ended;
// Close ends subscriptions and running actions.
//
// # Privacy
//
// Tokens for remotes are kept as Token values, which redact themselves in
// logs; URLs are logged and reported without their query or user
// information. The adapter logs only to Config.Logger.
package webthing
