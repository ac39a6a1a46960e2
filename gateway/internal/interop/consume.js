// consume.js: Eclipse Thingweb node-wot, unmodified, consumes a Hearth
// gateway's Thing Descriptions and exercises every operation it can.
//
// Run by interop_test.go:
//
//	node consume.js <config.json>
//
// config: {"base": "http://127.0.0.1:port/", "token": "..." or "",
//          "light": id, "washer": id, "directoryID": id}
//
// It prints one JSON object on stdout: {"results": [{"op", "thing",
// "name", "ok", "value", "error", "via"}...]}. "via" says which node-wot
// layer did the work: "scripting" (the WoT Scripting API: ConsumedThing)
// or "binding" (node-wot's HTTP binding client, given a form of our TD,
// for operations the Scripting API of node-wot 0.9 does not implement).
// Each operation gets a deadline, so a hang shows up as a failed
// operation, not a stuck test.
"use strict";

const fs = require("fs");
const { Servient } = require("@node-wot/core");
const { HttpClientFactory } = require("@node-wot/binding-http");
const { isThingDescription, getLastValidationErrors } = require("@node-wot/core/dist/validation");

const cfg = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const results = [];

function record(op, thingID, name, via, ok, value, error) {
  results.push({ op, thing: thingID, name: name || "", via, ok, value: value === undefined ? null : value, error: error ? String(error && error.message ? error.message : error) : "" });
}

function withTimeout(p, ms, what) {
  let t;
  return Promise.race([
    p,
    new Promise((_, reject) => { t = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms); }),
  ]).finally(() => clearTimeout(t));
}

async function attempt(op, thingID, name, via, fn) {
  try {
    const v = await withTimeout(fn(), 10000, op);
    record(op, thingID, name, via, true, v);
    return v;
  } catch (e) {
    record(op, thingID, name, via, false, undefined, e);
    return undefined;
  }
}

// fetchTD gets a TD with the bearer token. node-wot's own
// WoT.requestThingDescription sends no credentials (its HTTP client has
// none before a TD is consumed), so it cannot fetch a protected TD.
async function fetchTD(id) {
  const headers = { Accept: "application/td+json" };
  if (cfg.token) headers.Authorization = "Bearer " + cfg.token;
  const res = await fetch(new URL("things/" + id, cfg.base), { headers });
  if (!res.ok) throw new Error(`GET TD ${id}: ${res.status}`);
  return res.json();
}

// bindingClient returns the HTTP client node-wot's ConsumedThing uses for
// this thing (credentials set from our TD's security), for forms of the TD
// the Scripting API does not use.
function bindingClient(thing, op, forms) {
  return thing.getClientFor(forms, op, 0, {}).client;
}

function absolute(thing, href) {
  return new URL(href, thing.base).href;
}

async function body(content) {
  const b = await content.toBuffer();
  return b.length ? JSON.parse(b.toString("utf8")) : null;
}

function waitFor(pred, ms, what) {
  return new Promise((resolve, reject) => {
    const start = Date.now();
    const tick = () => {
      let v;
      try {
        v = pred();
      } catch (e) {
        return reject(e);
      }
      if (v !== undefined) return resolve(v);
      if (Date.now() - start > ms) return reject(new Error(`${what}: nothing within ${ms} ms`));
      setTimeout(tick, 10);
    };
    tick();
  });
}

async function main() {
  const servient = new Servient();
  servient.addClientFactory(new HttpClientFactory(null));
  if (cfg.token) {
    const creds = {};
    for (const id of [cfg.light, cfg.washer, cfg.directoryID]) creds[id] = { token: cfg.token };
    servient.addCredentials(creds);
  }
  const WoT = await servient.start();

  // The TDs: fetched, checked against node-wot's TD schema, consumed.
  const tds = {};
  const things = {};
  for (const id of [cfg.light, cfg.washer]) {
    await attempt("fetchtd", id, "", "fetch", async () => {
      const td = await fetchTD(id);
      if (!isThingDescription(td)) throw new Error("not a valid TD: " + getLastValidationErrors().message);
      tds[id] = td;
      return td.security;
    });
    if (tds[id]) {
      await attempt("consume", id, "", "scripting", async () => {
        things[id] = await WoT.consume(tds[id]);
        return true;
      });
    }
  }
  const light = things[cfg.light];
  const washer = things[cfg.washer];
  if (!light || !washer) {
    return;
  }

  // readproperty / writeproperty.
  await attempt("readproperty", cfg.light, "on", "scripting", async () => (await light.readProperty("on")).value());
  await attempt("writeproperty", cfg.light, "brightness", "scripting", async () => {
    await light.writeProperty("brightness", 42);
    return (await light.readProperty("brightness")).value();
  });
  // A value the property's schema rejects must fail (node-wot sends it;
  // the gateway answers 400).
  await attempt("writeproperty-invalid", cfg.light, "brightness", "scripting", async () => {
    await light.writeProperty("brightness", 500);
    return (await light.readProperty("brightness")).value();
  });

  // readallproperties / readmultipleproperties / writemultipleproperties:
  // node-wot 0.9 implements them as one request per property.
  await attempt("readallproperties", cfg.light, "", "scripting", async () => Object.fromEntries(await Promise.all(
    [...(await light.readAllProperties()).entries()].map(async ([k, v]) => [k, await v.value()]))));
  await attempt("readmultipleproperties", cfg.light, "", "scripting", async () => Object.fromEntries(await Promise.all(
    [...(await light.readMultipleProperties(["on", "brightness"])).entries()].map(async ([k, v]) => [k, await v.value()]))));
  await attempt("writemultipleproperties", cfg.light, "", "scripting", async () => {
    await light.writeMultipleProperties(new Map([["brightness", 30], ["on", true]]));
    return (await light.readProperty("brightness")).value();
  });
  // The thing-level forms of our TD, through node-wot's HTTP client.
  const thingForm = (thing, op) => {
    const f = (thing.forms || []).find((f) => [].concat(f.op).includes(op));
    if (!f) throw new Error(`no thing-level form for ${op}`);
    return { ...f, href: absolute(thing, f.href) };
  };
  await attempt("readallproperties", cfg.light, "", "binding", async () => {
    const form = thingForm(light, "readallproperties");
    return body(await bindingClient(light, "readproperty", light.properties.on.forms).readResource(form));
  });
  await attempt("readmultipleproperties", cfg.light, "", "binding", async () => {
    const form = thingForm(light, "readmultipleproperties");
    form.href += "?name=on&name=brightness";
    return body(await bindingClient(light, "readproperty", light.properties.on.forms).readResource(form));
  });

  // invokeaction, synchronous: "toggle" answers 200 with the output, or
  // 204 without one (it has no output schema: value() is undefined).
  await attempt("invokeaction-sync", cfg.light, "toggle", "scripting", async () => {
    const before = await (await light.readProperty("on")).value();
    await light.invokeAction("toggle");
    const after = await (await light.readProperty("on")).value();
    return { before, after };
  });

  // invokeaction, asynchronous: 201 with an ActionStatus. node-wot does not
  // expose the Location header, but the status body carries its href.
  const fade = await attempt("invokeaction-async", cfg.light, "fade", "scripting", async () => {
    const out = await light.invokeAction("fade", { brightness: 10, duration: 60000 });
    return JSON.parse(Buffer.from(await out.arrayBuffer()).toString("utf8"));
  });
  // queryaction and cancelaction: node-wot's ActionInteractionOutput.query
  // and cancel throw "Not yet implemented", so use our TD's queryaction and
  // cancelaction forms (URI variable actionID) with node-wot's HTTP client.
  if (fade && fade.href) {
    const actionID = fade.href.split("/").pop();
    const formFor = (op) => {
      const f = light.actions.fade.forms.find((f) => [].concat(f.op).includes(op));
      if (!f) throw new Error(`no form for ${op}`);
      return { ...f, href: f.href.replace("{actionID}", encodeURIComponent(actionID)) };
    };
    await attempt("queryaction", cfg.light, "fade", "binding", async () =>
      body(await bindingClient(light, "invokeaction", light.actions.fade.forms).readResource(formFor("queryaction"))));
    await attempt("cancelaction", cfg.light, "fade", "binding", async () => {
      // invokeResource sends the form's htv:methodName (DELETE); the
      // gateway answers 204 and forgets the request.
      return body(await bindingClient(light, "invokeaction", light.actions.fade.forms).invokeResource(formFor("cancelaction")));
    });
    await attempt("queryaction-cancelled", cfg.light, "fade", "binding", async () =>
      body(await bindingClient(light, "invokeaction", light.actions.fade.forms).readResource(formFor("queryaction"))));
  } else {
    record("queryaction", cfg.light, "fade", "binding", false, undefined, "no action status href");
    record("cancelaction", cfg.light, "fade", "binding", false, undefined, "no action status href");
  }
  await attempt("queryallactions", cfg.light, "", "binding", async () =>
    body(await bindingClient(light, "invokeaction", light.actions.fade.forms).readResource(thingForm(light, "queryallactions"))));

  // observeproperty over SSE: observe, write, expect the value.
  await attempt("observeproperty", cfg.light, "brightness", "scripting", async () => {
    const values = [];
    let failure;
    const sub = await light.observeProperty("brightness", async (out) => {
      values.push(await out.value());
    }, (err) => { failure = err; });
    try {
      await light.writeProperty("brightness", 77);
      await waitFor(() => {
        if (failure) throw failure;
        return values.includes(77) ? true : undefined;
      }, 5000, "observed value");
    } finally {
      await sub.stop();
    }
    return values;
  });

  // subscribeevent over SSE: the washer's "done" after its start action.
  await attempt("subscribeevent", cfg.washer, "done", "scripting", async () => {
    let data;
    const sub = await washer.subscribeEvent("done", async (out) => { data = await out.value(); });
    try {
      const st = await washer.invokeAction("start", { program: "demo" });
      await st.value();
      await waitFor(() => data, 5000, "done event");
    } finally {
      await sub.stop();
    }
    return data;
  });

  // WoT Discovery: node-wot explores the gateway's directory
  // (/.well-known/wot is public; its "things" property needs the token).
  await attempt("explore-directory", cfg.directoryID, "things", "scripting", async () => {
    const proc = await WoT.exploreDirectory(new URL(".well-known/wot", cfg.base).href);
    const ids = [];
    for await (const td of proc) ids.push(td.id);
    if (proc.error) throw proc.error;
    return ids.sort();
  });

  // A bad token: node-wot reports the 401 as an error.
  if (cfg.token) {
    const bad = new Servient();
    bad.addClientFactory(new HttpClientFactory(null));
    bad.addCredentials({ [cfg.light]: { token: "not-a-token" } });
    const WoT2 = await bad.start();
    await attempt("readproperty-badtoken", cfg.light, "on", "scripting", async () => {
      const t = await WoT2.consume(tds[cfg.light]);
      return (await t.readProperty("on")).value();
    });
    await bad.shutdown();
  }
  await servient.shutdown();
}

main()
  .catch((e) => record("script", "", "", "", false, undefined, e))
  .finally(() => {
    process.stdout.write(JSON.stringify({ nodeVersion: process.version, results }) + "\n");
    // SSE sockets node-wot failed to close must not keep us alive.
    setTimeout(() => process.exit(0), 50).unref();
  });
