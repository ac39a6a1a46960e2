// EnergySaver's page: shows this browser's connections to holiday homes,
// refreshed every two seconds from the app's own server.
'use strict';
(() => {
  const $ = (s) => document.querySelector(s);
  function h(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) e.setAttribute(k, v);
    for (const k of kids.flat()) if (k !== null && k !== undefined) e.append(k instanceof Node ? k : String(k));
    return e;
  }
  const LABEL = { connected: 'Live', withdrawn: 'Access withdrawn', error: 'Trouble connecting' };
  const fmt = (v, d) => (v === undefined || v === null ? '—' : v.toLocaleString(undefined, { maximumFractionDigits: d, minimumFractionDigits: d }));
  function tip(w) {
    if (w === undefined) return '';
    if (w > 2500) return 'Big load right now: oven, sauna or heating? Try not to run the washing machine at the same time.';
    if (w > 800) return 'Moderate use. Lowering the heating by one degree saves about 6% of its energy.';
    return 'Low use right now. Switching off standby devices keeps it that way.';
  }
  async function refresh() {
    let j;
    try {
      const r = await fetch('api/status', { cache: 'no-store' });
      j = await r.json();
    } catch (e) { return; }
    const note = $('#note');
    note.hidden = !j.note;
    note.textContent = j.note || '';
    const list = j.connections || [];
    $('#empty').hidden = list.length > 0;
    $('#conns').replaceChildren(...list.map((c) => h('article', { class: 'conn ' + c.status, 'data-home': c.home, 'data-status': c.status },
      h('div', { class: 'head' }, h('h2', {}, c.home.replace('home-', 'Holiday home ')), h('span', { class: 'chip' }, LABEL[c.status] || c.status)),
      c.status === 'withdrawn'
        ? h('p', { class: 'gone' }, c.message)
        : h('div', { class: 'figures' },
          h('div', {}, h('span', { class: 'big', 'data-power': '' }, fmt(c.power_w, 0)), h('span', { class: 'unit' }, 'W now')),
          h('div', {}, h('span', { class: 'big' }, fmt(c.energy_kwh, 3)), h('span', { class: 'unit' }, 'kWh so far'))),
      c.status === 'connected' ? h('p', { class: 'tip' }, tip(c.power_w)) : null,
      c.status === 'error' ? h('p', { class: 'gone' }, c.message) : null,
      h('p', { class: 'meta' }, `Live stream ${c.streaming ? 'open' : 'closed'} · ${c.events} ${c.events === 1 ? 'update' : 'updates'} received`,
        c.updated ? ` · last ${new Date(c.updated).toLocaleTimeString()}` : ''))));
  }
  refresh();
  setInterval(refresh, 2000);
})();
