// The badge scanner: camera, continuous QR detection, a confirmation card per
// scan, an optional note step and a typed-code fallback. Scans go through the
// offline queue (scan-queue.js), never straight to the server.

import { ScanQueue } from './scan-queue.js';

const GONE_AFTER = 3000; // ms a badge must be out of view before it counts again
const DETECT_EVERY = 100; // ms between detections: quick enough, easy on the battery
const RECENT_MAX = 20;
const BADGE_PATH = /\/b\/([A-Za-z0-9_-]{16,64})\/?$/;

const $ = (id) => document.getElementById(id);
const root = $('scanner');
const viewfinder = $('viewfinder');
const video = $('scan-video');
const cameraStatus = $('camera-status');
const switchButton = $('camera-switch');
const torchButton = $('camera-torch');
const result = $('scan-result');
const noteForm = $('note-form');
const noteText = $('note-text');
const noteLabel = $('note-label');
const manualForm = $('manual-form');
const manualCode = $('manual-code');

const queue = new ScanQueue({
  scansUrl: root.dataset.scansUrl, contactsUrl: root.dataset.contactsUrl, owner: root.dataset.user,
});

// --- What a QR code says ------------------------------------------------------------------

// The token of a MeetLoop badge URL (any host: BASE_URL may differ from this
// page's), or null for any other QR code.
function badgeToken(text) {
  let url;
  try {
    url = new URL(text);
  } catch {
    return null;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return null;
  const match = BADGE_PATH.exec(url.pathname);
  return match ? match[1] : null;
}

// A badge held in view counts once: it must be gone for GONE_AFTER to count again.
const lastSeen = new Map();

function onCodes(values) {
  const now = performance.now();
  for (const value of values) {
    const token = badgeToken(value);
    if (!token) continue; // a menu, a Wi-Fi code...: not ours, ignore it
    const last = lastSeen.get(token);
    lastSeen.set(token, now);
    if (last === undefined || now - last > GONE_AFTER) record(token, `Badge scanned at ${clock()}`);
  }
}

function clock() {
  return new Date().toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

// --- The decoder --------------------------------------------------------------------------

async function makeDetector() {
  if ('BarcodeDetector' in window) {
    try {
      const formats = await window.BarcodeDetector.getSupportedFormats();
      if (formats.includes('qr_code')) return new window.BarcodeDetector({ formats: ['qr_code'] });
    } catch {
      // fall through to the polyfill
    }
  }
  const api = await loadPolyfill();
  const wasm = root.dataset.wasmUrl;
  // Point the polyfill at our copy of the decoder; by default it fetches it
  // from a CDN (unreachable offline, and blocked by our CSP anyway).
  await api.prepareZXingModule({
    overrides: { locateFile: (path, prefix) => (path.endsWith('.wasm') ? wasm : prefix + path) },
    fireImmediately: true,
  });
  return new api.BarcodeDetector({ formats: ['qr_code'] });
}

// The polyfill (43 KB, and a 1 MB decoder after it) is loaded only where the
// browser has no QR detector of its own.
function loadPolyfill() {
  if (window.BarcodeDetectionAPI) return Promise.resolve(window.BarcodeDetectionAPI);
  return new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = root.dataset.polyfillUrl;
    script.onload = () => resolve(window.BarcodeDetectionAPI);
    script.onerror = () => reject(new Error('The QR decoder could not be loaded.'));
    document.head.append(script);
  });
}

const detectorReady = makeDetector();
detectorReady.catch(() => {}); // reported by detect() once a camera runs; no camera, no news

// --- The camera ---------------------------------------------------------------------------

let stream = null;
let deviceId = null; // null: let the browser pick the rear camera
let generation = 0; // bumped on every stop, so an old detection loop ends

function cameraProblem(error) {
  if (error && error.name === 'NotAllowedError') {
    return 'Camera access is off. Allow it in your browser settings, or type the code below.';
  }
  if (error && error.name === 'NotFoundError') return 'No camera found. Type the code under the QR code below.';
  return 'The camera is not available. Type the code under the QR code below.';
}

// No camera: fold the viewfinder down to its message, so the code field moves up.
function cameraOff(message) {
  cameraStatus.textContent = message;
  viewfinder.classList.add('is-off');
}

function stopCamera() {
  generation += 1;
  if (stream) stream.getTracks().forEach((track) => track.stop());
  stream = null;
  torchButton.setAttribute('aria-pressed', 'false');
}

async function startCamera() {
  stopCamera();
  const mine = generation;
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    cameraOff(cameraProblem(null));
    return;
  }
  const which = deviceId ? { deviceId: { exact: deviceId } } : { facingMode: { ideal: 'environment' } };
  let media;
  try {
    media = await navigator.mediaDevices.getUserMedia({
      audio: false, video: { ...which, width: { ideal: 1280 }, height: { ideal: 720 } },
    });
  } catch (error) {
    cameraOff(cameraProblem(error));
    return;
  }
  if (mine !== generation) { // stopped (page hidden, camera switched) while we waited
    media.getTracks().forEach((track) => track.stop());
    return;
  }
  stream = media;
  viewfinder.classList.remove('is-off');
  video.srcObject = stream;
  await video.play().catch(() => {});
  await showCameraButtons();
  cameraStatus.textContent = 'Loading the code reader…';
  detect(mine);
}

async function showCameraButtons() {
  // The list of cameras is complete only once camera access is granted.
  const cameras = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === 'videoinput');
  switchButton.hidden = cameras.length < 2;
  const track = stream.getVideoTracks()[0];
  const capabilities = track.getCapabilities ? track.getCapabilities() : {};
  torchButton.hidden = !capabilities.torch;
}

const nextFrame = () => new Promise((resolve) => setTimeout(() => requestAnimationFrame(resolve), DETECT_EVERY));

async function detect(mine) {
  let detector;
  try {
    detector = await detectorReady;
  } catch {
    cameraOff("The code reader didn't load. Type the code under the QR code below.");
    return;
  }
  if (mine === generation) cameraStatus.textContent = 'Point the camera at a badge.';
  while (mine === generation) {
    if (video.readyState >= 2) {
      try {
        onCodes((await detector.detect(video)).map((code) => code.rawValue));
      } catch {
        // an unreadable frame (or the camera just switched): try the next one
      }
    }
    await nextFrame();
  }
}

switchButton.addEventListener('click', async () => {
  const cameras = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === 'videoinput');
  const current = stream ? stream.getVideoTracks()[0].getSettings().deviceId : null;
  const index = cameras.findIndex((camera) => camera.deviceId === current);
  deviceId = cameras[(index + 1) % cameras.length].deviceId;
  startCamera();
});

torchButton.addEventListener('click', async () => {
  const track = stream && stream.getVideoTracks()[0];
  if (!track) return;
  const on = torchButton.getAttribute('aria-pressed') !== 'true';
  try {
    await track.applyConstraints({ advanced: [{ torch: on }] });
    torchButton.setAttribute('aria-pressed', String(on));
  } catch {
    torchButton.hidden = true;
  }
});

// Let go of the camera in the background; pick it up again on return.
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'hidden') stopCamera();
  else startCamera();
});

// --- The confirmation card ----------------------------------------------------------------

let card = null; // {id, label, status, tone, contact, noteSaved}: the latest scan

function sameOrigin(url) {
  const parsed = new URL(url, location.href); // photo URLs use BASE_URL, which may be another host
  return parsed.pathname + parsed.search;
}

function showCard(changes) {
  card = { ...card, ...changes };
  const view = $('card-template').content.firstElementChild.cloneNode(true);
  const { contact } = card;
  const name = contact ? contact.name : card.label;
  view.classList.add(`is-${card.tone}`);
  view.querySelector('.scan-card-status').textContent = card.noteSaved ? `${card.status} · Note saved` : card.status;
  view.querySelector('.scan-card-name').textContent = name;
  view.querySelector('.scan-card-headline').textContent =
    contact ? [contact.headline, contact.company].filter(Boolean).join(' · ') : '';
  const photo = view.querySelector('.scan-card-photo');
  const initial = view.querySelector('.scan-card-initial');
  if (contact && contact.photo_url) {
    photo.src = sameOrigin(contact.photo_url);
    photo.alt = `Photo of ${contact.name}`;
    photo.hidden = false;
    initial.hidden = true;
  } else {
    initial.textContent = contact ? name.slice(0, 1).toUpperCase() : { error: '!', pending: '…' }[card.tone] || '✓';
  }
  result.replaceChildren(view);
}

function waitingStatus() {
  if (queue.needsAuth) return 'Saved on this phone. Sign in again to sync it.';
  if (navigator.onLine === false) return "Saved on this phone. It will sync when you're back online.";
  return 'Saved on this phone. Syncing…';
}

async function record(badge, label) {
  saveNote(); // what was typed for the last person goes with them; not awaited: never in the way
  if (navigator.vibrate) navigator.vibrate(60);
  let item;
  try {
    item = await queue.add(badge, label);
  } catch { // no IndexedDB (some private modes): say so rather than pretend
    showCard({ id: null, label, contact: null, tone: 'error', status: "This browser can't keep scans. Try another browser." });
    return;
  }
  showCard({ id: item.id, label, contact: null, tone: 'pending', status: waitingStatus(), noteSaved: false });
  openNote(item.id);
}

queue.addEventListener('synced', ({ detail: { item, body } }) => {
  if (item.kind !== 'scan') return;
  if (body.contact) addRecent(body.contact, body.already_connected);
  if (!card || card.id !== item.id) return;
  const again = body.already_connected;
  showCard({ contact: body.contact, tone: again ? 'again' : 'done', status: again ? 'Met again' : 'Connected' });
  if (body.contact && noteFor === item.id) noteLabel.textContent = `Note about ${body.contact.name} (only you see it)`;
});

queue.addEventListener('attention', ({ detail: { item } }) => {
  if (!card || card.id !== item.id) return;
  showCard({ tone: 'error', status: item.error.message });
  closeNote();
});

queue.addEventListener('retry', () => {
  if (card && card.tone === 'pending') showCard({ status: waitingStatus() });
});

// --- The note step: optional, never in the way of the next scan ---------------------------

let noteFor = null; // the scan the open note belongs to

function openNote(scanId) {
  noteFor = scanId;
  noteForm.reset();
  noteLabel.textContent = 'Note about this person (only you see it)';
  noteForm.hidden = false;
}

function closeNote() {
  noteFor = null;
  noteForm.reset();
  noteForm.hidden = true;
}

async function saveNote() {
  if (!noteFor) return;
  const scanId = noteFor;
  const note = noteText.value.trim();
  const tags = [...noteForm.querySelectorAll('input[name="intent"]:checked')].map((box) => box.value);
  closeNote();
  if (!note && !tags.length) return;
  const saved = await queue.addNote(scanId, note, tags);
  if (card && card.id === scanId) {
    showCard(saved ? { noteSaved: true } : { status: `${card.status} · Add the note from your connections` });
  }
}

noteForm.addEventListener('submit', (event) => {
  event.preventDefault();
  saveNote();
});

// --- Typing the code ----------------------------------------------------------------------

manualForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const value = manualCode.value.trim();
  if (!value) {
    manualCode.focus();
    return;
  }
  manualCode.value = '';
  record(badgeToken(value) || value, `Code ${value}`);
});

// --- The queue on screen ------------------------------------------------------------------

function waitingText(scans, notes) {
  const count = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;
  const parts = [scans && count(scans, 'scan'), notes && count(notes, 'note')].filter(Boolean);
  return parts.length ? `${parts.join(' and ')} waiting to sync` : 'All scans synced';
}

async function showQueue() {
  const items = await queue.items();
  const waiting = items.filter((item) => item.state === 'waiting');
  const scans = waiting.filter((item) => item.kind === 'scan').length;
  const status = $('sync-status');
  status.dataset.waiting = String(scans);
  status.textContent = waitingText(scans, waiting.length - scans);
  $('sync-signin').hidden = !(queue.needsAuth && waiting.length);

  const problems = items.filter((item) => item.state === 'attention');
  $('attention').hidden = !problems.length;
  $('attention-list').replaceChildren(...problems.map((item) => {
    const li = document.createElement('li');
    const text = document.createElement('span');
    const what = document.createElement('strong');
    what.textContent = item.label;
    text.append(what, ` ${item.error.message}`);
    const dismiss = document.createElement('button');
    dismiss.type = 'button';
    dismiss.className = 'secondary outline';
    dismiss.textContent = 'Dismiss';
    dismiss.setAttribute('aria-label', `Dismiss ${item.label}`);
    dismiss.addEventListener('click', () => queue.dismiss(item.id));
    li.append(text, dismiss);
    return li;
  }));
}

function addRecent(contact, again) {
  const li = document.createElement('li');
  const name = document.createElement('strong');
  name.textContent = contact.name;
  li.append(name);
  if (again) {
    const badge = document.createElement('span');
    badge.className = 'met-again';
    badge.textContent = 'met again';
    li.append(' ', badge);
  }
  if (contact.headline) {
    const headline = document.createElement('small');
    headline.textContent = contact.headline;
    li.append(headline);
  }
  const list = $('recent-list');
  list.prepend(li);
  while (list.children.length > RECENT_MAX) list.lastElementChild.remove();
}

for (const type of ['change', 'auth']) queue.addEventListener(type, showQueue);
window.addEventListener('online', showQueue);
window.addEventListener('offline', showQueue);

// --- Start --------------------------------------------------------------------------------

if ('serviceWorker' in navigator) {
  navigator.serviceWorker.register(root.dataset.swUrl).catch(() => {
    // no offline copy of this page, but scanning and the IndexedDB queue still work
  });
}
showQueue();
queue.start();
startCamera();
