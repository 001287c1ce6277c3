// MeetLoop's service worker (served as /sw.js): keeps the scanner and
// "My badge" usable without a network. It never handles /api/: the scanner
// page queues scans in IndexedDB itself, and API answers must never be cached.

const CACHE = 'meetloop-offline-v1'; // a new name drops the old cache on activation
const here = (path) => new URL(path, self.location).href; // works under a URL prefix too
const ROOT = new URL('./', self.location).pathname;
const SCANNER = here('scan');
const ASSETS = [
  'static/js/register-sw.js', // every signed-in page loads it, offline too
  'static/js/scanner.js',
  'static/js/scan-queue.js',
  'static/vendor/barcode-detector/ponyfill.js',
  'static/vendor/zxing-wasm/zxing_reader.wasm',
  'static/vendor/pico/pico.min.css',
  'static/css/app.css',
].map(here);
// Pages kept for offline use, fresh from the network whenever it answers.
const OFFLINE_PAGES = [new RegExp(`^${ROOT}scan$`), new RegExp(`^${ROOT}events/[^/]+/badge$`)];

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    await cache.addAll(ASSETS);
    await keepPage(cache, SCANNER, await fetch(SCANNER, { credentials: 'same-origin' }).catch(() => null));
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name !== CACHE) await caches.delete(name);
    }
    await self.clients.claim(); // the page that installed us works offline without a reload
  })());
});

self.addEventListener('fetch', (event) => {
  const { request } = event;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || url.pathname.startsWith(`${ROOT}api/`)) return;
  if (request.mode === 'navigate' && OFFLINE_PAGES.some((page) => page.test(url.pathname))) {
    event.respondWith(networkFirst(request, url.origin + url.pathname));
  } else if (ASSETS.includes(url.href)) {
    event.respondWith(cacheFirstThenRefresh(event, request));
  }
});

// Only a signed-in page itself: not a redirect to sign-in, not an error page.
async function keepPage(cache, key, response) {
  if (response && response.status === 200 && response.type === 'basic' && !response.redirected) {
    await cache.put(key, response.clone());
  }
  return response;
}

async function networkFirst(request, key) {
  try {
    return await keepPage(await caches.open(CACHE), key, await fetch(request));
  } catch (error) {
    const cached = await caches.match(key);
    if (cached) return cached;
    throw error;
  }
}

// Scripts, styles and the decoder: from the cache at once (fast on venue
// wifi, works offline), refreshed in the background for the next visit.
async function cacheFirstThenRefresh(event, request) {
  const cache = await caches.open(CACHE);
  const cached = await cache.match(request);
  const refresh = fetch(request).then((response) => {
    if (response.status === 200) return cache.put(request, response.clone()).then(() => response);
    return response;
  });
  if (!cached) return refresh;
  event.waitUntil(refresh.catch(() => {}));
  return cached;
}
