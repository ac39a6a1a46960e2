// The resort owner's dashboard: aggregates from the federated-learning
// server (homes taking part, accuracy, privacy spent), the model's forecast
// on the resort's own show home, and the maintenance console.
'use strict';
(() => {
  const $ = (s) => document.querySelector(s);
  const NS = 'http://www.w3.org/2000/svg';
  function h(tag, attrs, ...kids) {
    const e = ['svg', 'path', 'line', 'text', 'rect', 'g', 'circle'].includes(tag) ? document.createElementNS(NS, tag) : document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v);
    for (const k of kids.flat()) if (k !== null && k !== undefined) e.append(k instanceof Node ? k : String(k));
    return e;
  }
  let scaleResort = true;
  let last = null;
  const fmt = (v, d = 2) => (v === null || v === undefined || Number.isNaN(v) ? '–' : Number(v).toFixed(d));

  async function summary() {
    let s;
    try {
      const r = await fetch('api/summary', { cache: 'no-store' });
      if (r.status === 401) { location.reload(); return; }
      s = await r.json();
    } catch (e) { $('#updated').textContent = 'cloud unreachable'; return; }
    last = s;
    const fl = s.fl;
    $('#took-part').textContent = fl.round ? fl.took_part : '–';
    $('#available').textContent = fl.round ? fl.sampled : s.homes;
    const lastRound = s.rounds[0];
    $('#took-part-sub').textContent = !fl.round
      ? `waiting for ${fl.min_cohort} homes whose guests consent`
      : `in round ${fl.round}` + (fl.declined ? ` · ${fl.declined} declined (no consent)` : '') +
        (lastRound && lastRound.error ? ` · nothing released: fewer than ${fl.min_cohort} took part` : ` · at least ${fl.min_cohort} needed`);
    $('#mae').textContent = fmt(fl.mae);
    const better = fl.naive && fl.mae ? (1 - fl.mae / fl.naive) * 100 : null;
    $('#mae-sub').textContent = `mean absolute error per home-hour · naive "same as last hour": ${fmt(fl.naive)} kWh` + (better !== null ? ` (${better >= 0 ? better.toFixed(0) + '% better' : (-better).toFixed(0) + '% worse'})` : '');
    $('#eps').textContent = fl.noise > 0 ? fmt(fl.epsilon, 1) : '∞';
    $('#budget').textContent = fl.budget > 0 ? fmt(fl.budget, 0) : '∞';
    const pct = fl.budget > 0 ? Math.min(100, (fl.epsilon / fl.budget) * 100) : 0;
    $('#eps-fill').style.width = pct + '%';
    $('#eps-bar').setAttribute('aria-valuenow', fmt(fl.epsilon, 1));
    $('#eps-bar').setAttribute('aria-valuemax', fl.budget || 0);
    $('#eps-sub').textContent = fl.noise > 0
      ? `central differential privacy on the securely aggregated sum, δ = ${fl.delta ? fl.delta.toExponential(0) : '1e-5'}, noise ×${fl.noise}` + (fl.stopped ? ` · ${fl.stopped}` : '') + '. Few homes make ε large: DP shines with many.'
      : 'differential privacy is off (-dp-noise 0): no formal guarantee about what the model reveals' + (fl.secure_aggregation ? ', though secure aggregation still hides each home\'s update' : '');
    $('#online').textContent = s.connected;
    $('#homes').textContent = s.homes;
    $('#relay-sub').textContent = `through the relay · ${s.relay.streams} open streams · ${s.relay.streams_total} forwarded so far`;
    $('#rounds-sub').textContent = `A round every ${fl.rounds_every}. Each home trains on its own meter history, only if its guest consents, and clips its update. ` +
      (fl.secure_aggregation
        ? `Secure aggregation masks every update, so the resort learns only their sum over at least ${fl.min_cohort} homes, never one home's` + (fl.noise > 0 ? ', and adds noise to it before using it.' : '.')
        : `The resort sees each home's update` + (fl.noise > 0 ? ` and uses only the noisy average of at least ${fl.min_cohort} homes.` : '.'));
    $('#rounds').replaceChildren(...s.rounds.map((r) => h('tr', {},
      h('td', {}, r.round), h('td', {}, new Date(r.time).toLocaleTimeString()),
      h('td', {}, `${r.took_part} of ${r.sampled}`), h('td', {}, r.declined || ''),
      h('td', {}, r.error ? h('span', { class: 'warn', title: r.error }, 'not released') : fmt(r.mae)),
      h('td', {}, r.epsilon ? fmt(r.epsilon, 1) : '–'))));
    if (!s.rounds.length) $('#rounds').append(h('tr', {}, h('td', { colspan: 6, class: 'sub' }, 'No round yet.')));
    chart(s);
    $('#updated').textContent = 'updated ' + new Date().toLocaleTimeString();
  }

  function chart(s) {
    const svg = $('#chart');
    const pts = s.forecast || [];
    svg.replaceChildren();
    if (!pts.length) return;
    const k = scaleResort ? Math.max(1, s.homes) : 1;
    const W = 800, H = 260, L = 48, R = 12, T = 14, B = 30;
    const vals = pts.map((p) => (p.actual ?? p.forecast) * k);
    const maxY = Math.max(1, ...vals) * 1.15;
    const x = (i) => L + (i * (W - L - R)) / (pts.length - 1);
    const y = (v) => T + (H - T - B) * (1 - v / maxY);
    for (let g = 0; g <= 4; g++) {
      const v = (maxY * g) / 4;
      svg.append(h('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), class: 'grid' }), h('text', { x: L - 8, y: y(v) + 4, class: 'axis', 'text-anchor': 'end' }, v.toFixed(v < 10 ? 1 : 0)));
    }
    const split = pts.findIndex((p) => p.forecast !== undefined && p.forecast !== null);
    svg.append(h('rect', { x: x(split), y: T, width: W - R - x(split), height: H - T - B, class: 'future' }));
    pts.forEach((p, i) => {
      const t = new Date(p.time);
      if (t.getHours() % 6 === 0) svg.append(h('text', { x: x(i), y: H - 10, class: 'axis', 'text-anchor': 'middle' }, t.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })));
    });
    const line = (from, to, cls) => {
      let d = '';
      for (let i = from; i <= to; i++) d += (i === from ? 'M' : 'L') + x(i).toFixed(1) + ',' + y(vals[i]).toFixed(1);
      svg.append(h('path', { d, class: cls }));
    };
    line(0, split - 1, 'actual');
    line(split - 1, pts.length - 1, 'forecast');
    svg.append(h('text', { x: x(split) + 6, y: T + 14, class: 'label' }, 'forecast →'), h('text', { x: x(split) - 6, y: T + 14, class: 'label', 'text-anchor': 'end' }, '← measured'));
    const fsum = pts.slice(split).reduce((a, p) => a + p.forecast, 0) * k;
    $('#chart-desc').textContent = `kWh per hour${scaleResort ? ` for ${k} homes` : ' for one home'}. Forecast for the next 24 hours: ${fsum.toFixed(0)} kWh in total.`;
  }

  async function maintenance() {
    let j;
    try {
      const r = await fetch('api/maintenance', { cache: 'no-store' });
      if (!r.ok) return;
      j = await r.json();
    } catch (e) { return; }
    $('#maint').replaceChildren(...j.homes.map((m) => {
      const d = m.devices || {};
      const cell = (v) => h('td', {}, v === undefined ? '–' : String(v));
      const out = h('span', { class: 'result', 'data-home': m.home });
      const btn = h('button', { type: 'button', class: 'small' }, 'Request');
      btn.addEventListener('click', async () => {
        out.textContent = 'asking…';
        const r = await fetch(`api/maintenance/${encodeURIComponent(m.home)}/history`, { method: 'POST' });
        const res = await r.json();
        out.className = 'result ' + (res.allowed ? 'ok' : 'refused');
        out.textContent = res.allowed ? `${(res.history.values || []).length} values` : res.reason;
      });
      return h('tr', {},
        h('th', { scope: 'row' }, m.home.replace('home-', 'Home ')),
        h('td', {}, m.online ? h('span', { class: 'dot on' }, 'online') : h('span', { class: 'dot' }, 'offline')),
        cell(d['heating mode']), cell(d['target °C'] !== undefined ? d['target °C'] + ' °C' : undefined),
        cell(d['room °C'] !== undefined ? Number(d['room °C']).toFixed(1) + ' °C' : undefined), cell(d['washing machine']),
        h('td', {}, m.online ? [btn, ' ', out] : '–'));
    }));
  }

  for (const [id, v] of [['scale-home', false], ['scale-resort', true]]) {
    $('#' + id).addEventListener('click', () => {
      scaleResort = v;
      $('#scale-home').setAttribute('aria-pressed', String(!v));
      $('#scale-resort').setAttribute('aria-pressed', String(v));
      if (last) chart(last);
    });
  }
  summary();
  maintenance();
  setInterval(summary, 3000);
  setInterval(maintenance, 15000);
})();
