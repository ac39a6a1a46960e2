// Package interop tests the gateway against Eclipse Thingweb node-wot, the
// reference implementation of the W3C Web of Things, used unmodified.
//
// # Running
//
// The test needs Node.js (18 or later) and the node-wot packages pinned in
// package.json and package-lock.json (@node-wot/core and
// @node-wot/binding-http 0.9.2):
//
//	npm ci --prefix gateway/internal/interop
//	HEARTH_NODEWOT=1 go test ./gateway/internal/interop
//
// Without HEARTH_NODEWOT=1, node on PATH and the installed packages it
// skips, saying which is missing.
//
// # What it does
//
// The Go test serves a gateway.Server with virtual devices (a dimmable
// light and a washing machine) on 127.0.0.1 and runs consume.js, which
// fetches their Thing Descriptions, validates them with node-wot's TD
// schema, consumes them with WoT.consume and performs every operation
// node-wot can: readproperty, writeproperty (also a value the schema
// rejects), readallproperties, readmultipleproperties,
// writemultipleproperties, invokeaction (synchronous and asynchronous),
// queryaction, cancelaction, queryallactions, observeproperty and
// subscribeevent over Server-Sent Events, and WoT Discovery
// (WoT.exploreDirectory on /.well-known/wot). It reports each outcome as
// JSON and the test checks them, and what node-wot sent (a recording
// handler sits in front of the gateway).
//
// It runs twice: with a bearer token handed to node-wot as credentials
// (a gatewaytest.Authorizer decides), and against a gateway whose TDs say
// "nosec" (gateway.InsecureAllowAll).
//
// # What node-wot 0.9.2 does not do
//
//   - Its SSE client (subprotocol "sse") opens an EventSource without the
//     client's credentials, so with bearer security observeproperty and
//     subscribeevent are refused with 401, as they must be. The test checks
//     exactly that, and exercises SSE on the "nosec" gateway.
//   - WoT.requestThingDescription sends no credentials either, so
//     consume.js fetches protected TDs itself (WoT.exploreDirectory, which
//     reads the directory's "things" property with credentials, works).
//   - Its Scripting API has no queryaction or cancelaction
//     (ActionInteractionOutput.query and cancel throw "Not yet
//     implemented") and performs readallproperties,
//     readmultipleproperties and writemultipleproperties as one request
//     per property. consume.js also drives the TD's queryaction,
//     cancelaction, queryallactions, readallproperties and
//     readmultipleproperties forms through node-wot's HTTP binding client.
//   - It validates TDs with a 2021 draft of the TD 1.1 schema, which only
//     knows the TD 1.0 context URI; the gateway writes the form TD 1.1
//     allows for that: the 1.0 URI first, then the 1.1 URI.
package interop
