// Register the service worker on every signed-in page, so "My badge" and the
// scanner work offline even on a phone that never opened /scan before.
'use strict';
if ('serviceWorker' in navigator) {
  const url = document.currentScript && document.currentScript.dataset.swUrl;
  if (url) navigator.serviceWorker.register(url).catch(() => { /* offline support is a bonus */ });
}
