// The offline scan queue. Every scan is written to IndexedDB first, with its
// client_id and scanned_at, and only then sent to POST /api/v1/scans. An item
// leaves the queue when the server has it (2xx; a replay of the same client_id
// is fine) or when the person dismisses it. Nothing is dropped because of an
// answer that can be fixed: a lost session waits for sign-in, a rejected scan
// waits (with the server's message) until it is dismissed.
//
// Items: {id, kind: 'scan' | 'note', owner, state: 'waiting' | 'attention',
//         created, label, error?, ...what to send}

const DB_NAME = 'meetloop-scans';
const STORE = 'queue';
const RETRY_EVERY = 30000; // sync on a timer too: 'online' events are not reliable
const MAX_BACKOFF = 60000;
const REQUEST_TIMEOUT = 15000; // venue wifi can hang a request for minutes

// A client_id. crypto.randomUUID exists only in secure contexts.
export function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

// ISO 8601 with the device's offset (the API wants an offset, any offset).
function nowIso() {
  return new Date().toISOString();
}

function request(idbRequest) {
  return new Promise((resolve, reject) => {
    idbRequest.onsuccess = () => resolve(idbRequest.result);
    idbRequest.onerror = () => reject(idbRequest.error);
  });
}

function openDb() {
  const req = indexedDB.open(DB_NAME, 1);
  req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: 'id' });
  return request(req);
}

// What to do with an answer: 'done', 'auth' (keep, ask to sign in again),
// 'retry' (keep, try later) or 'attention' (keep, show the message).
export function classify(status, code) {
  if (status >= 200 && status < 300) return 'done';
  if (status === 401 || (status === 403 && code === 'csrf_failed')) return 'auth';
  if (status === 408 || status === 429 || status >= 500) return 'retry';
  return 'attention'; // unknown_badge, self_scan, not_attendee, client_id_conflict, ...
}

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : '';
}

function joinNotes(a, b) {
  return [a, b].filter(Boolean).join('\n');
}

export class ScanQueue extends EventTarget {
  // Events: 'change' (the queue changed), 'synced' {item, body},
  // 'attention' {item}, 'retry' (a round stopped: offline or server trouble),
  // 'auth' {needed: bool}.
  constructor({ scansUrl, contactsUrl, owner }) {
    super();
    this.scansUrl = scansUrl;
    this.contactsUrl = contactsUrl;
    this.owner = owner;
    this.db = openDb();
    this.running = null;
    this.again = false;
    this.backoff = 0;
    this.retryTimer = null;
    this.inflight = null; // {id, done}: the item being sent right now
    this.needsAuth = false;
    this.contacts = new Map(); // scan id -> the contact the server answered, for notes
  }

  async store(mode) {
    return (await this.db).transaction(STORE, mode).objectStore(STORE);
  }

  async get(id) {
    return request((await this.store('readonly')).get(id));
  }

  async put(item) {
    await request((await this.store('readwrite')).put(item));
    this.emit('change');
  }

  async remove(id) {
    await request((await this.store('readwrite')).delete(id));
    this.emit('change');
  }

  // This account's items, oldest first. Another account's items on a shared
  // phone stay put until that person signs in here again.
  async items() {
    const all = await request((await this.store('readonly')).getAll());
    return all.filter((item) => item.owner === this.owner).sort((a, b) => a.created - b.created);
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  // Queue a scan (a badge token, URL or short code) and start sending it.
  async add(badge, label) {
    const item = {
      id: uuid(), kind: 'scan', owner: this.owner, state: 'waiting', created: Date.now(),
      label, badge, scanned_at: nowIso(), note: '', tags: [],
    };
    await this.put(item);
    this.sync();
    return item;
  }

  // A note and tags for a scan. If the scan is still queued they travel with
  // it (the server appends the note); once it is synced they become a queued
  // PATCH of the contact, so a note typed offline is kept too.
  async addNote(scanId, note, tags) {
    while (this.inflight && this.inflight.id === scanId) await this.inflight.done;
    const item = await this.get(scanId);
    const contact = this.contacts.get(scanId);
    if (item) {
      item.note = joinNotes(item.note, note);
      item.tags = [...new Set([...item.tags, ...tags])];
      await this.put(item);
    } else if (contact) {
      await this.put({
        id: uuid(), kind: 'note', owner: this.owner, state: 'waiting', created: Date.now(),
        label: contact.name, contact_id: contact.id, base_note: contact.note, note, tags,
      });
    } else {
      return false;
    }
    this.sync();
    return true;
  }

  async dismiss(id) {
    await this.remove(id);
  }

  // Send what is waiting. Calls while a round runs are folded into one more round.
  sync() {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    clearTimeout(this.retryTimer);
    this.running = (async () => {
      try {
        do {
          this.again = false;
          await this.round();
        } while (this.again);
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }

  async round() {
    const waiting = (await this.items()).filter((item) => item.state === 'waiting');
    if (!waiting.length) return;
    if (navigator.onLine === false) return this.retryLater(); // the 'online' event brings us back
    for (const { id } of waiting) {
      const item = await this.get(id); // fresh: a note may have been added meanwhile
      if (!item || item.state !== 'waiting') continue;
      let done;
      this.inflight = { id, done: new Promise((resolve) => { done = resolve; }) };
      try {
        const stop = await this.send(item);
        if (stop) return;
      } finally {
        this.inflight = null;
        done();
      }
    }
    this.backoff = 0;
  }

  // Send one item and act on the answer; true means stop this round.
  async send(item) {
    let response;
    let body = null;
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), REQUEST_TIMEOUT);
    try {
      response = await fetch(...this.requestFor(item), { signal: timeout.signal });
      body = await response.json().catch(() => null);
    } catch (error) {
      this.retryLater();
      return true;
    } finally {
      clearTimeout(timer);
    }
    const code = body && body.error ? body.error.code : null;
    let verdict = classify(response.status, code);
    // A 2xx without our JSON is a captive portal or a proxy, not our server.
    if (verdict === 'done' && !(body && (body.scan || body.id))) verdict = 'retry';
    if (verdict === 'retry') {
      this.retryLater(Number(response.headers.get('Retry-After')) * 1000 || 0);
      return true;
    }
    if (verdict === 'auth') {
      this.setAuth(true);
      this.emit('retry');
      return true; // every other item would get the same answer
    }
    this.setAuth(false);
    if (verdict === 'done') {
      await this.remove(item.id);
      this.remember(item, body);
      this.emit('synced', { item, body });
    } else {
      const message = (body && body.error && body.error.message) || `The server answered ${response.status}.`;
      await this.put({ ...item, state: 'attention', error: { code, message } });
      this.emit('attention', { item: { ...item, error: { code, message } } });
    }
    return false;
  }

  // [url, init] for fetch.
  requestFor(item) {
    const headers = { 'Content-Type': 'application/json', 'X-CSRFToken': csrfToken() };
    if (item.kind === 'note') {
      const change = { add_tags: item.tags };
      // PATCH replaces the note: keep what the contact already had.
      if (item.note) change.note = joinNotes(item.base_note, item.note);
      return [`${this.contactsUrl}/${item.contact_id}`,
        { method: 'PATCH', headers, credentials: 'same-origin', body: JSON.stringify(change) }];
    }
    const scan = { badge: item.badge, client_id: item.id, scanned_at: item.scanned_at, note: item.note, tags: item.tags };
    return [this.scansUrl, { method: 'POST', headers, credentials: 'same-origin', body: JSON.stringify(scan) }];
  }

  remember(item, body) {
    if (item.kind === 'scan' && body.contact) this.contacts.set(item.id, body.contact);
    if (item.kind === 'note') {
      for (const [scanId, contact] of this.contacts) {
        if (contact.id === body.id) this.contacts.set(scanId, body);
      }
    }
  }

  setAuth(needed) {
    if (this.needsAuth === needed) return;
    this.needsAuth = needed;
    this.emit('auth', { needed });
  }

  retryLater(atLeast = 0) {
    this.backoff = Math.min(MAX_BACKOFF, this.backoff ? this.backoff * 2 : 2000);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.sync(), Math.max(this.backoff, atLeast));
    this.emit('retry');
  }

  // Sync now and whenever there is a reason to think it may work.
  start() {
    const now = () => {
      this.backoff = 0;
      this.sync();
    };
    window.addEventListener('online', now);
    window.addEventListener('focus', now);
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') now();
    });
    setInterval(() => this.sync(), RETRY_EVERY);
    now();
  }
}
