// Service worker of the guest app: it keeps the app's shell (page,
// script, styles, icons) so the app opens without a network, where it
// shows the last known states of the home's devices, marked as stale.
// It never caches the home's API: device states and tokens go to the
// network only (the page itself keeps its last known states).
'use strict';
const CACHE = 'hh-shell-v3';
const SHELL = ['./', 'app/app.css', 'app/app.js', 'app/icon.svg', 'app/icon-192.png', 'app/icon-512.png', 'manifest.webmanifest'];
const scope = new URL(self.registration.scope);
const shellURLs = new Set(SHELL.map((p) => new URL(p, scope).href));

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const k of await caches.keys()) if (k !== CACHE) await caches.delete(k);
    await self.clients.claim();
  })());
});

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== scope.origin) return;
  if (req.mode === 'navigate' && url.href.split(/[?#]/)[0] === scope.href) {
    // The app's page: network first (it may have changed), cache when offline.
    event.respondWith(fetch(req).then((res) => {
      if (res.ok) { const copy = res.clone(); caches.open(CACHE).then((c) => c.put('./', copy)); }
      return res;
    }).catch(() => caches.match('./')));
    return;
  }
  if (shellURLs.has(url.href)) {
    // Shell assets: from the cache, refreshed in the background.
    event.respondWith(caches.match(req).then((hit) => {
      const net = fetch(req).then((res) => {
        if (res.ok) { const copy = res.clone(); caches.open(CACHE).then((c) => c.put(req, copy)); }
        return res;
      }).catch(() => hit);
      return hit || net;
    }));
  }
});
