// The holiday home's guest app: plain JavaScript, no framework, no build.
//
// It authenticates to its own home with the session cookie set at check-in,
// and fetches a short-lived bearer token from api/token for the gateway's
// API (W3C WoT: things, properties, actions) and its live updates
// (WebThings WebSocket, token in ?jwt=). Every URL is relative, so the same
// app works at home and through the resort's relay, where the home has an
// origin of its own (home-N.localhost on the relay's port). The last known
// states are kept in localStorage (the home's origin only) and shown,
// marked stale, when the home cannot be reached.
'use strict';

(() => {
  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

  // h builds an element: h('p', {class: 'x'}, 'text', child).
  function h(tag, attrs, ...kids) {
    const e = document.createElementNS(tag === 'svg' || tag === 'use' ? 'http://www.w3.org/2000/svg' : 'http://www.w3.org/1999/xhtml', tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === false || v === null || v === undefined) continue;
      if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const k of kids.flat()) {
      if (k === null || k === undefined || k === false) continue;
      e.append(k instanceof Node ? k : document.createTextNode(String(k)));
    }
    return e;
  }
  const icon = (name) => h('svg', { 'aria-hidden': 'true', class: 'icon' }, h('use', { href: '#i-' + name }));

  class AuthError extends Error {}

  const state = {
    session: null, token: null, tokenExp: 0,
    things: [], byId: {}, values: {}, wsIndex: {}, sockets: {},
    grants: [], live: false, stale: false, cachedAt: 0,
  };
  const CACHE_KEY = 'hh-cache:' + location.pathname;

  // ---------- utilities ----------
  function toast(msg) {
    const t = $('#toast');
    t.textContent = msg;
    t.classList.add('show');
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => t.classList.remove('show'), 4500);
  }
  const fmtTime = (d) => new Date(d).toLocaleString(undefined, { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });
  const fmtDay = (d) => new Date(d).toLocaleDateString(undefined, { weekday: 'short', day: 'numeric', month: 'short' });
  const thingPath = (id) => 'things/' + encodeURIComponent(id).replace(/%3A/gi, ':');
  const sameOriginJSON = (body) => ({ method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body || {}) });

  async function token(force) {
    if (!force && state.token && Date.now() < state.tokenExp - 60000) return state.token;
    const r = await fetch('api/token', { cache: 'no-store' });
    if (r.status === 401) throw new AuthError('signed out');
    if (!r.ok) throw new Error('token: ' + r.status);
    const j = await r.json();
    state.token = j.access_token;
    state.tokenExp = Date.parse(j.expires_at);
    return state.token;
  }

  // api calls the gateway with the bearer token, retrying once after a 401.
  async function api(path, opts = {}, retry = true) {
    const t = await token(!retry);
    const r = await fetch(path, { ...opts, cache: 'no-store', headers: { ...(opts.headers || {}), Authorization: 'Bearer ' + t } });
    if (r.status === 401 && retry) return api(path, opts, false);
    if (r.status === 401) throw new AuthError('token refused');
    return r;
  }

  // ---------- cache of last known states ----------
  function saveCache() {
    if (!state.session) return;
    try {
      localStorage.setItem(CACHE_KEY, JSON.stringify({
        at: Date.now(), title: state.session.title, things: state.things, values: state.values,
      }));
    } catch (e) { /* storage full or disabled: no offline view */ }
  }
  function loadCache() {
    try { return JSON.parse(localStorage.getItem(CACHE_KEY) || 'null'); } catch (e) { return null; }
  }
  function clearCache() {
    try { localStorage.removeItem(CACHE_KEY); } catch (e) { /* ignore */ }
  }

  // ---------- connection status ----------
  function setConn(kind, text) {
    const p = $('#conn');
    p.className = 'pill ' + kind;
    p.textContent = text;
  }
  function setStale(on, why) {
    state.stale = on;
    document.body.classList.toggle('stale', on);
    const b = $('#banner');
    if (on) {
      const when = state.cachedAt ? fmtTime(state.cachedAt) : 'an earlier visit';
      b.replaceChildren(h('strong', {}, why || 'Your home cannot be reached right now.'), ' ',
        `Showing the last known states, from ${when}. They may have changed. Controls are paused until the connection is back.`);
      b.hidden = false;
      setConn('off', 'Offline · stale');
    } else {
      b.hidden = true;
    }
    for (const c of $$('#things input, #things button, #things select')) c.disabled = on;
  }

  // ---------- things ----------
  const ORDER = ['Light', 'Thermostat', 'SmartPlug', 'EnergyMonitor', 'DoorSensor'];
  const types = (td) => [].concat(td['@type'] || []);
  function kind(td) {
    const t = types(td);
    const props = td.properties || {};
    if (t.includes('Light')) return 'light';
    if (t.includes('Thermostat')) return 'thermo';
    if (t.includes('SmartPlug')) return 'plug';
    if (t.includes('DoorSensor')) return /window/i.test(td.title || td.id) ? 'window' : 'door';
    if (props.state && props.program) return 'washer';
    if (t.includes('EnergyMonitor')) return 'meter';
    return 'device';
  }
  function rank(td) {
    const k = kind(td);
    return ['light', 'thermo', 'plug', 'washer', 'meter', 'door', 'window', 'device'].indexOf(k);
  }
  const UNITS = { 'degree celsius': '°C', watt: 'W', percent: '%', 'kilowatt hour': 'kWh', volt: 'V', ampere: 'A', 'watt hour': 'Wh' };
  function fmtValue(schema, v) {
    if (v === undefined || v === null) return '—';
    if (schema.type === 'boolean') {
      if (schema['@type'] === 'OpenProperty') return v ? 'Open' : 'Closed';
      return v ? 'On' : 'Off';
    }
    if (schema.unit === 'second' && typeof v === 'number') {
      const m = Math.floor(v / 60), s = Math.round(v % 60);
      return `${m}:${String(s).padStart(2, '0')}`;
    }
    if (typeof v === 'number') {
      const u = UNITS[schema.unit] || '';
      const digits = schema.type === 'integer' ? 0 : (Math.abs(v) >= 100 ? 0 : 1);
      return v.toLocaleString(undefined, { maximumFractionDigits: u === 'kWh' ? 2 : digits, minimumFractionDigits: u === 'kWh' ? 2 : 0 }) + (u ? (u === '%' ? '%' : ' ' + u) : '');
    }
    if (typeof v === 'string') return v.charAt(0).toUpperCase() + v.slice(1);
    return JSON.stringify(v);
  }
  function summary(td) {
    const v = state.values[td.id] || {};
    const p = td.properties || {};
    switch (kind(td)) {
      case 'light': return v.on ? (p.brightness ? `On · ${v.brightness}%` : 'On') : 'Off';
      case 'thermo': {
        const t = fmtValue(p.temperature || {}, v.temperature);
        if (v.mode === 'off') return `${t} · heating off`;
        const act = v.heatingCooling && v.heatingCooling !== 'off' ? v.heatingCooling : 'holding';
        return `${t} · ${act} to ${fmtValue(p.targetTemperature || {}, v.targetTemperature)}`;
      }
      case 'plug': return v.on ? `On · ${fmtValue(p.power || {}, v.power)}` : 'Off';
      case 'washer': return v.state && v.state !== 'idle' ? `${fmtValue({}, v.state)} · ${fmtValue({ unit: 'second' }, v.remaining)} left` : 'Idle';
      case 'meter': return `${fmtValue(p.power || {}, v.power)} now`;
      case 'door': case 'window': return fmtValue(p.open || { type: 'boolean' }, v.open);
      default: return '';
    }
  }
  // Properties a card's summary line already shows.
  const IN_SUMMARY = { thermo: ['temperature', 'heatingCooling'], plug: ['power'], washer: ['state', 'remaining'], meter: ['power'], door: ['open'], window: ['open'] };
  const isOnOff = (name, s) => s && s.type === 'boolean' && !s.readOnly && (s['@type'] === 'OnOffProperty' || name === 'on');

  function renderThings() {
    const grid = $('#things');
    grid.replaceChildren();
    const list = [...state.things].sort((a, b) => rank(a) - rank(b) || (a.title || '').localeCompare(b.title || ''));
    $('#things-empty').hidden = list.length > 0;
    list.forEach((td, i) => grid.append(thingCard(td, i)));
    for (const td of list) updateCard(td.id);
    setStale(state.stale);
  }

  function thingCard(td, i) {
    const props = td.properties || {};
    const hid = 'thing-' + i;
    const card = h('article', { class: 'thing kind-' + kind(td), 'data-id': td.id, 'aria-labelledby': hid });
    const head = h('div', { class: 'thing-head' },
      h('span', { class: 'ico' }, icon(kind(td) === 'device' ? 'device' : kind(td))),
      h('div', { class: 'thing-title' }, h('h3', { id: hid }, td.title || td.id), h('p', { class: 'status', 'data-summary': '' })),
    );
    const controls = h('div', { class: 'controls' });
    const readings = h('dl', { class: 'readings' });
    for (const [name, s] of Object.entries(props)) {
      if (isOnOff(name, s)) {
        head.append(h('button', {
          type: 'button', class: 'switch', role: 'switch', 'aria-checked': 'false', 'data-prop': name,
          'aria-label': `${td.title}: ${s.title || name}`,
          onclick: (e) => write(td, name, e.currentTarget.getAttribute('aria-checked') !== 'true'),
        }, h('span', { class: 'knob' })));
      } else if (!s.readOnly && (s.type === 'integer' || s.type === 'number') && s.minimum !== undefined && s.maximum !== undefined) {
        const id = `${hid}-${name}`;
        const out = h('output', { for: id, 'data-out': name });
        controls.append(h('div', { class: 'field' },
          h('label', { for: id }, s.title || name, out),
          h('input', {
            id, type: 'range', min: s.minimum, max: s.maximum, step: s.multipleOf || (s.type === 'integer' ? 1 : 0.5), 'data-prop': name,
            oninput: (e) => { out.textContent = fmtValue(s, Number(e.target.value)); },
            onchange: (e) => write(td, name, Number(e.target.value)),
          })));
      } else if (!s.readOnly && s.enum) {
        const id = `${hid}-${name}`;
        controls.append(h('div', { class: 'field' },
          h('label', { for: id }, s.title || name),
          h('select', { id, 'data-prop': name, onchange: (e) => write(td, name, e.target.value) },
            s.enum.map((o) => h('option', { value: o }, fmtValue({}, o))))));
      } else if ((IN_SUMMARY[kind(td)] || []).includes(name)) {
        continue;
      } else if (s.readOnly || !(s.type === 'boolean')) {
        readings.append(h('div', {}, h('dt', {}, s.title || name), h('dd', { 'data-read': name })));
      }
    }
    for (const [name, a] of Object.entries(td.actions || {})) {
      const inProps = (a.input && a.input.properties) || {};
      const keys = Object.keys(inProps);
      if (!a.input && types(a).includes('ToggleAction') && $('.switch', head)) continue;
      if (!a.input) {
        controls.append(h('button', { type: 'button', class: 'button small', onclick: () => invoke(td, name, undefined) }, a.title || name));
      } else if (keys.length === 1 && inProps[keys[0]].enum) {
        const id = `${hid}-act-${name}`;
        const sel = h('select', { id }, inProps[keys[0]].enum.map((o) => h('option', { value: o }, fmtValue({}, o))));
        controls.append(h('div', { class: 'field inline' },
          h('label', { for: id }, inProps[keys[0]].title || (keys[0].charAt(0).toUpperCase() + keys[0].slice(1))),
          h('div', { class: 'inline' }, sel, h('button', { type: 'button', class: 'button small', onclick: () => invoke(td, name, { [keys[0]]: sel.value }) }, a.title || name))));
      }
    }
    card.append(head);
    if (controls.childNodes.length) card.append(controls);
    if (readings.childNodes.length) card.append(readings);
    card.append(h('span', { class: 'stale-tag', 'aria-hidden': 'true' }, 'stale'));
    return card;
  }

  function updateCard(id) {
    const td = state.byId[id];
    const card = $(`.thing[data-id="${CSS.escape(id)}"]`);
    if (!td || !card) return;
    const v = state.values[id] || {};
    const props = td.properties || {};
    card.classList.toggle('on', v.on === true || v.open === true || (typeof v.state === 'string' && v.state !== 'idle'));
    $('[data-summary]', card).textContent = summary(td);
    for (const c of $$('[data-prop]', card)) {
      const name = c.getAttribute('data-prop');
      if (!(name in v)) continue;
      if (c.getAttribute('role') === 'switch') c.setAttribute('aria-checked', String(v[name] === true));
      else if (document.activeElement !== c) c.value = v[name];
    }
    for (const o of $$('[data-out]', card)) {
      const name = o.getAttribute('data-out');
      o.textContent = fmtValue(props[name] || {}, v[name]);
    }
    for (const d of $$('[data-read]', card)) {
      const name = d.getAttribute('data-read');
      d.textContent = fmtValue(props[name] || {}, v[name]);
    }
  }

  function setValue(id, name, value) {
    (state.values[id] ||= {})[name] = value;
    updateCard(id);
    saveCacheSoon();
  }
  function saveCacheSoon() {
    clearTimeout(saveCacheSoon.t);
    saveCacheSoon.t = setTimeout(saveCache, 500);
  }

  async function write(td, name, value) {
    if (state.stale) return;
    const before = (state.values[td.id] || {})[name];
    setValue(td.id, name, value); // optimistic; the live stream confirms
    try {
      const r = await api(thingPath(td.id) + '/properties/' + encodeURIComponent(name), {
        method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(value),
      });
      if (!r.ok) throw new Error(await problemText(r));
    } catch (e) {
      setValue(td.id, name, before);
      handleError(e, `Could not change ${td.title}`);
    }
  }

  async function invoke(td, name, input) {
    if (state.stale) return;
    try {
      const r = await api(thingPath(td.id) + '/actions/' + encodeURIComponent(name), {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body: input === undefined ? '' : JSON.stringify(input),
      });
      if (!r.ok) throw new Error(await problemText(r));
      toast(`${td.title}: ${(td.actions[name].title || name).toLowerCase()} started`);
    } catch (e) {
      handleError(e, `${td.title} did not respond`);
    }
  }

  async function problemText(r) {
    try { const j = await r.json(); return j.detail || j.title || r.statusText; } catch (e) { return r.statusText; }
  }

  function handleError(e, what) {
    if (e instanceof AuthError) return signedOut('Your access ended. Check in again to continue.');
    if (e instanceof TypeError) return goOffline();
    toast(`${what}: ${e.message}`);
  }

  async function loadThings() {
    const r = await api('things?limit=200');
    if (!r.ok) throw new Error('things: ' + r.status);
    const tds = await r.json();
    const values = {};
    await Promise.all(tds.map(async (td) => {
      const pr = await api(thingPath(td.id) + '/properties');
      values[td.id] = pr.ok ? await pr.json() : {};
    }));
    state.things = tds.map((td) => ({ id: td.id, title: td.title, '@type': td['@type'], properties: td.properties, actions: td.actions }));
    state.byId = Object.fromEntries(state.things.map((t) => [t.id, t]));
    state.values = values;
    state.cachedAt = Date.now();
    renderThings();
    saveCache();
    if (state.session) $('#maintenance').replaceChildren(...(state.session.maintenance || []).map((sc) => h('li', {}, scopeText(sc))));
  }

  // ---------- live updates (WebThings WebSocket per thing) ----------
  async function connectLive() {
    const r = await api('webthings');
    if (!r.ok) return;
    for (const t of await r.json()) state.wsIndex[t.id] = String(t.href).split('/').pop();
    for (const td of state.things) openSocket(td.id, 0);
  }

  async function openSocket(id, attempt) {
    if (state.sockets[id] || !state.wsIndex[id]) return;
    let tok;
    try { tok = await token(attempt > 0); } catch (e) { return handleError(e, 'Live updates'); }
    const u = new URL('webthings/' + state.wsIndex[id], location.href);
    u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    u.hash = '';
    u.search = '?jwt=' + encodeURIComponent(tok);
    const ws = new WebSocket(u);
    state.sockets[id] = ws;
    ws.onopen = () => { attempt = 0; updateLive(); };
    ws.onmessage = (ev) => {
      let m; try { m = JSON.parse(ev.data); } catch (e) { return; }
      if (m.messageType === 'propertyStatus') for (const [k, v] of Object.entries(m.data || {})) setValue(id, k, v);
    };
    ws.onclose = () => {
      delete state.sockets[id];
      updateLive();
      if (!state.session || state.stale) return;
      const wait = Math.min(15000, 500 * 2 ** attempt) * (0.5 + Math.random() / 2);
      setTimeout(() => openSocket(id, attempt + 1), wait);
    };
  }

  function updateLive() {
    if (state.stale) return;
    const open = Object.values(state.sockets).filter((s) => s.readyState === WebSocket.OPEN).length;
    const remote = state.session && state.session.remote;
    if (open > 0) setConn('on', remote ? 'Live · via resort' : 'Live');
    else setConn('wait', 'Connecting…');
  }

  function closeSockets() {
    for (const ws of Object.values(state.sockets)) { ws.onclose = null; ws.close(); }
    state.sockets = {};
  }

  // ---------- privacy centre ----------
  const OPS = { readproperty: 'read', observeproperty: 'watch', writeproperty: 'change', invokeaction: 'operate', readallproperties: 'read all', readmultipleproperties: 'read', subscribeevent: 'follow events of' };
  function scopeText(s) {
    const ops = [...new Set(s.ops.map((o) => OPS[o]).filter(Boolean))];
    const td = state.byId[s.thing];
    const what = s.thing === '*' ? 'all devices' : ((td && td.title) || s.thing.split(':').pop().replace(/-/g, ' '));
    const verbs = s.ops.length >= 10 ? 'use' : (ops.length ? ops.join(' and ') : s.ops.join(', '));
    const names = (s.names || []).map((n) => {
      const p = td && ((td.properties || {})[n] || (td.actions || {})[n]);
      return ((p && p.title) || n).toLowerCase();
    });
    return [verbs.charAt(0).toUpperCase() + verbs.slice(1) + ' ', h('strong', {}, what), names.length ? ': ' + names.join(', ') : ''];
  }
  const clientName = (id) => (state.session && state.session.clients[id]) || id;
  const purposeOf = (id) => ((state.session && state.session.purposes) || []).find((p) => p.id === id) || { id, description: id };
  const BASIS = { consent: 'your consent', contract: 'your rental contract', 'legitimate-interests': 'legitimate interest' };

  async function loadGrants() {
    const r = await fetch('consent/api/grants', { cache: 'no-store' });
    if (r.status === 401) return signedOut('Your check-in ended. Check in again to continue.');
    if (!r.ok) return;
    state.grants = (await r.json()).grants || [];
    renderGrants();
    renderApps();
  }

  function renderGrants() {
    const list = $('#grants');
    const gs = [...state.grants].sort((a, b) => (a.status === 'active' ? 0 : 1) - (b.status === 'active' ? 0 : 1) || Date.parse(b.created) - Date.parse(a.created));
    list.replaceChildren(...gs.map(grantCard));
    if (!gs.length) list.append(h('p', { class: 'muted' }, 'You have not given any consent.'));
    const fg = gs.find((g) => g.holder === 'resort-forecast' && g.status === 'active');
    const sw = $('#forecast-switch');
    sw.setAttribute('aria-checked', String(!!fg));
    $('#forecast-state').textContent = fg
      ? `On since ${fmtTime(fg.created)}: this home takes part in the resort's forecast rounds.`
      : 'Off: this home does not take part. You can change your mind at any time.';
  }

  function grantCard(g) {
    const p = purposeOf(g.purpose);
    const self = g.holder === 'guest-app';
    const status = { active: 'Active', revoked: 'Withdrawn', expired: 'Expired' }[g.status] || g.status;
    return h('article', { class: 'card grant ' + g.status, 'data-grant': g.id, 'data-holder': g.holder },
      h('div', { class: 'row' },
        h('div', {}, h('h4', {}, self ? 'This guest app' : clientName(g.holder)), h('p', { class: 'muted' }, p.description)),
        h('span', { class: 'badge ' + g.status }, status)),
      h('ul', { class: 'scopes' }, g.scopes.map((s) => h('li', {}, scopeText(s)))),
      h('p', { class: 'small' },
        `Given ${fmtTime(g.created)} · `,
        g.status === 'revoked' ? `withdrawn ${fmtTime(g.revoked)}` : `until ${fmtDay(g.expires)}`,
        ` · basis: ${BASIS[p.lawful_basis] || p.lawful_basis}`),
      h('div', { class: 'actions' },
        g.status === 'active' ? h('button', { type: 'button', class: 'button danger', 'data-revoke': g.id, onclick: () => revoke(g), 'aria-describedby': self ? 'self-note-' + g.id : null }, 'Withdraw') : null,
        h('button', { type: 'button', class: 'button', onclick: () => showReceipt(g) }, 'Receipt')),
      self && g.status === 'active' ? h('p', { class: 'small', id: 'self-note-' + g.id }, 'Withdrawing this signs you out of the app.') : null);
  }

  async function revoke(g) {
    try {
      const r = await fetch(`consent/api/grants/${encodeURIComponent(g.id)}/revoke`, sameOriginJSON({}));
      if (!r.ok && r.status !== 204) throw new Error(await problemText(r));
      if (g.holder === 'guest-app') return signedOut('You withdrew this app\u2019s access. Check in again to use it.');
      toast(`Withdrawn: ${clientName(g.holder)} can no longer use it, from now on.`);
      await loadGrants();
    } catch (e) {
      handleError(e, 'Could not withdraw');
    }
  }

  async function showReceipt(g) {
    const d = $('#receipt');
    const body = $('#receipt-body');
    body.replaceChildren(h('p', {}, 'Checking the receipt…'));
    d.showModal();
    try {
      const r = await fetch('api/receipts/' + encodeURIComponent(g.id), { cache: 'no-store' });
      if (!r.ok) throw new Error(await problemText(r));
      const j = await r.json();
      const rc = j.receipt || {};
      const pur = (rc.services && rc.services[0] && rc.services[0].purposes[0]) || {};
      const blob = new Blob([j.signed], { type: 'text/plain' });
      body.replaceChildren(
        h('p', { class: j.verified ? 'ok' : 'error' }, j.verified ? '✓ Signed by this home\u2019s consent ledger and found in its audit log.' : '✗ This receipt did not verify: ' + (j.error || '')),
        h('dl', { class: 'kv' },
          h('dt', {}, 'Given to'), h('dd', {}, clientName(rc.services && rc.services[0] && rc.services[0].service)),
          h('dt', {}, 'Purpose'), h('dd', {}, pur.purposeDescription || g.purpose),
          h('dt', {}, 'Legal basis'), h('dd', {}, BASIS[pur.lawfulBasis] || pur.lawfulBasis || ''),
          h('dt', {}, 'What'), h('dd', {}, h('ul', { class: 'plain tight' }, g.scopes.map((sc) => h('li', {}, scopeText(sc))))),
          h('dt', {}, 'Given'), h('dd', {}, rc.consentTimestamp ? fmtTime(rc.consentTimestamp * 1000) : ''),
          h('dt', {}, 'Until'), h('dd', {}, pur.termination ? fmtTime(pur.termination) : ''),
          h('dt', {}, 'Status'), h('dd', {}, rc.status || ''),
          h('dt', {}, 'Responsible'), h('dd', {}, ((rc.piiControllers || [])[0] || {}).piiController || ''),
          h('dt', {}, 'Audit log entry'), h('dd', {}, rc.proof ? `#${rc.proof.index}` : ''),
          h('dt', {}, 'Receipt id'), h('dd', { class: 'mono' }, rc.consentReceiptID || '')),
        h('a', { class: 'button small', href: URL.createObjectURL(blob), download: `consent-receipt-${g.id}.txt` }, 'Save signed receipt'));
    } catch (e) {
      body.replaceChildren(h('p', { class: 'error' }, 'No receipt: ' + e.message));
    }
  }

  async function setForecast(on) {
    const sw = $('#forecast-switch');
    sw.disabled = true;
    try {
      const r = await fetch('api/forecast-consent', sameOriginJSON({ consent: on }));
      if (r.status === 401) return signedOut('Your check-in ended.');
      if (!r.ok) throw new Error(await problemText(r));
      toast(on ? 'Thank you: this home now takes part in the forecast.' : 'Done: this home no longer takes part in the forecast.');
      await loadGrants();
    } catch (e) {
      handleError(e, 'Could not record your choice');
    } finally {
      sw.disabled = false;
    }
  }

  async function erase() {
    try {
      const r = await fetch('consent/api/erase', sameOriginJSON({ confirm: true }));
      if (!r.ok && r.status !== 204) throw new Error(await problemText(r));
      clearCache();
      signedOut('Your data was erased and you were checked out. Thank you for staying with us.');
    } catch (e) {
      handleError(e, 'Could not erase');
    }
  }

  // ---------- apps and devices ----------
  function renderApps() {
    const s = state.session;
    if (!s) return;
    const box = $('#app-list');
    box.replaceChildren(...(s.apps || []).map((a) => {
      const g = state.grants.find((x) => x.holder === a.id && x.status === 'active');
      return h('article', { class: 'card app', 'data-app': a.id },
        h('div', { class: 'row' },
          h('div', {}, h('h3', {}, a.name), h('p', { class: 'muted' }, a.description)),
          h('span', { class: 'badge ' + (g ? 'active' : 'neutral') }, g ? 'Connected' : 'Not connected')),
        h('p', { class: 'small' }, 'Asks to read and watch your energy meter, for: ', purposeOf((a.purposes || [])[0]).description),
        h('div', { class: 'actions' },
          g ? h('a', { class: 'button', href: a.uri }, 'Open ' + a.name) : h('a', { class: 'button primary', href: a.connect_url, id: 'connect-' + a.id }, 'Connect ' + a.name),
          g ? h('a', { class: 'button', href: '#privacy' }, 'Manage access') : null));
    }));
    const links = $('#links');
    if (s.remote) links.replaceChildren('You are using this app away from home, through the resort\u2019s relay.');
    else links.replaceChildren('Away from home, this app works at ', h('a', { href: s.remote_url }, s.remote_url));
    const pending = s.pending_devices || [];
    if (pending.length) showLabel(pending[pending.length - 1]);
  }

  function showLabel(l) {
    const box = $('#label');
    box.replaceChildren(
      h('p', { class: 'label-name' }, l.name),
      h('p', {}, 'Setup code ', h('span', { class: 'code' }, l.code)),
      h('p', { class: 'small mono' }, l.payload));
    box.hidden = false;
  }

  async function unbox() {
    try {
      const r = await fetch('api/devices/unbox', sameOriginJSON({}));
      if (r.status === 401) return signedOut('Your check-in ended.');
      if (!r.ok) throw new Error(await problemText(r));
      showLabel(await r.json());
      $('#setup-code').focus();
    } catch (e) {
      handleError(e, 'No device');
    }
  }

  async function addDevice(ev) {
    ev.preventDefault();
    const st = $('#add-status');
    const btn = $('#add-device');
    btn.disabled = true;
    st.textContent = 'Looking for the device over Bluetooth…';
    try {
      const r = await fetch('api/devices/add', sameOriginJSON({ code: $('#setup-code').value }));
      if (r.status === 401) return signedOut('Your check-in ended.');
      if (!r.ok) throw new Error(await problemText(r));
      const j = await r.json();
      st.textContent = `Added: secure session, Wi-Fi handed over, registered (${j.steps.join(' → ')}).`;
      $('#setup-code').value = '';
      $('#label').hidden = true;
      toast('New device added to your home.');
      await loadThings();
      for (const td of state.things) openSocket(td.id, 0);
      connectLive();
    } catch (e) {
      st.textContent = e.message;
      if (e instanceof TypeError) goOffline();
    } finally {
      btn.disabled = false;
    }
  }

  // ---------- views ----------
  function route() {
    const tab = (location.hash || '#home').slice(1);
    const signedIn = !$('#view-signin').hidden ? false : true;
    if (!signedIn) return;
    for (const v of ['home', 'privacy', 'apps']) {
      $('#view-' + v).hidden = v !== tab;
      const a = $(`.tabs a[data-tab="${v}"]`);
      if (v === tab) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
    }
    if (!['home', 'privacy', 'apps'].includes(tab)) $('#view-home').hidden = false;
  }

  function signedOut(msg) {
    state.session = null;
    closeSockets();
    clearCache();
    for (const v of ['home', 'privacy', 'apps']) $('#view-' + v).hidden = true;
    $('#view-signin').hidden = false;
    $('.tabs').hidden = true;
    $('#banner').hidden = true;
    document.body.classList.remove('stale');
    if (msg) $('#signin-msg').textContent = msg;
    $('#home-sub').textContent = 'Guest app';
    $('#toast').classList.remove('show');
    setConn('off', 'Signed out');
  }

  function goOffline() {
    closeSockets();
    const c = loadCache();
    if (c && !state.things.length) {
      state.things = c.things; state.values = c.values; state.cachedAt = c.at;
      state.byId = Object.fromEntries(state.things.map((t) => [t.id, t]));
      if (c.title) $('#home-title').textContent = c.title;
      renderThings();
    }
    if (!state.cachedAt && c) state.cachedAt = c.at;
    setStale(true, navigator.onLine ? 'Your home cannot be reached right now.' : 'You are offline.');
    // Try again now and then; the 'online' event covers the device's own
    // network coming back, this the home (or the relay) coming back.
    clearTimeout(goOffline.retry);
    goOffline.retry = setTimeout(async function again() {
      try {
        const r = await fetch('api/session', { cache: 'no-store' });
        if (r.ok || r.status === 401) return location.reload();
      } catch (e) { /* still unreachable */ }
      goOffline.retry = setTimeout(again, 10000);
    }, 5000);
  }

  function renderSession() {
    const s = state.session;
    $('#home-title').textContent = s.title;
    $('#home-sub').textContent = `Guest since ${fmtDay(s.since)}`;
    document.title = s.title;
    $('#maintenance').replaceChildren(...(s.maintenance || []).map((sc) => h('li', {}, scopeText(sc))));
    renderApps();
  }

  async function boot() {
    if ('serviceWorker' in navigator) navigator.serviceWorker.register('sw.js').catch(() => {});
    $$('.tabs a').forEach((a) => a.addEventListener('click', () => setTimeout(() => $('#main').focus(), 0)));
    window.addEventListener('hashchange', route);
    window.addEventListener('online', () => location.reload());
    window.addEventListener('offline', goOffline);
    $('#forecast-switch').addEventListener('click', (e) => setForecast(e.currentTarget.getAttribute('aria-checked') !== 'true'));
    $('#erase').addEventListener('click', () => $('#confirm-erase').showModal());
    $('#confirm-erase').addEventListener('close', (e) => { if (e.target.returnValue === 'erase') erase(); });
    $('#unbox').addEventListener('click', unbox);
    $('#add-form').addEventListener('submit', addDevice);
    route();

    // Show the last known states at once; they are marked stale until
    // fresh ones arrive.
    const c = loadCache();
    if (c) {
      state.things = c.things; state.values = c.values; state.cachedAt = c.at;
      state.byId = Object.fromEntries(state.things.map((t) => [t.id, t]));
      if (c.title) $('#home-title').textContent = c.title;
      renderThings();
      document.body.classList.add('stale');
    }
    setConn('wait', 'Connecting…');
    try {
      const r = await fetch('api/session', { cache: 'no-store' });
      if (r.status === 401) return signedOut();
      if (!r.ok) throw new Error('session: ' + r.status);
      state.session = await r.json();
      renderSession();
      await loadThings();
      setStale(false);
      connectLive();
      loadGrants();
    } catch (e) {
      if (e instanceof AuthError) return signedOut();
      if (e instanceof TypeError) return goOffline();
      toast('Something went wrong: ' + e.message);
    }
  }

  // Exposed for tests and the curious: the app's state, read-only use.
  window.holidayHome = { state, token };
  document.addEventListener('DOMContentLoaded', boot);
})();
