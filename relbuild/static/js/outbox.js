// The offline outbox: notes are saved on the phone first (IndexedDB), then sent with
// PUT /api/notes/<uuid>. The client-made UUID makes every retry safe: the server never
// creates a second note for the same write. Used by pages and by the service worker.
// Each note carries the account that wrote it (an opaque key from the server): on a shared phone a
// note is only ever sent, counted or shown while that same account is signed in.
(function (scope) {
  "use strict";
  var DB_NAME = "relbuild";
  var CHANNEL = "relbuild-sync";
  var MAX_BACKOFF = 5 * 60 * 1000;
  var flushing = null;

  function open() {
    return new Promise(function (resolve, reject) {
      var request = indexedDB.open(DB_NAME, 1);
      request.onupgradeneeded = function () {
        var db = request.result;
        if (!db.objectStoreNames.contains("outbox")) db.createObjectStore("outbox", { keyPath: "id" });
        if (!db.objectStoreNames.contains("people")) db.createObjectStore("people", { keyPath: "token" });
      };
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }

  function run(store, mode, work) {
    return open().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(store, mode);
        var result = work(tx.objectStore(store));
        tx.oncomplete = function () { db.close(); resolve(result && "result" in result ? result.result : result); };
        tx.onerror = function () { db.close(); reject(tx.error); };
      });
    });
  }

  function all() { return run("outbox", "readonly", function (s) { return s.getAll(); }); }
  function put(record) { return run("outbox", "readwrite", function (s) { return s.put(record); }); }
  function remove(id) { return run("outbox", "readwrite", function (s) { return s.delete(id); }); }

  function uuid() {
    if (scope.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  function announce(synced) {
    return counts().then(function (c) {
      c.synced = synced || 0;
      if (scope.BroadcastChannel) new BroadcastChannel(CHANNEL).postMessage(c);
      return c;
    });
  }

  // The notes of one account (all of them when no account is given).
  function counts(account) {
    return all().then(function (items) {
      if (account !== undefined) items = items.filter(function (i) { return !i.account || i.account === account; });
      return {
        pending: items.filter(function (i) { return i.state !== "error"; }).length,
        errors: items.filter(function (i) { return i.state === "error"; }).length,
        items: items
      };
    });
  }

  // Save a note on this phone. A note not yet sent about the same badge is updated in place.
  function save(note) {
    return all().then(function (items) {
      var waiting = items.filter(function (i) { return i.badge === note.badge && i.account === note.account; })[0];
      var record = {
        id: waiting ? waiting.id : uuid(), account: note.account, badge: note.badge, body: note.body, offer: note.offer || "",
        name: note.name || (waiting && waiting.name) || "", met_at: waiting ? waiting.met_at : new Date().toISOString(),
        state: "pending", attempts: 0, next_try: 0, error: ""
      };
      return put(record).then(function () { return announce(); }).then(function () { return record; });
    });
  }

  function freshToken() {
    return fetch("/api/csrf", { credentials: "same-origin", cache: "no-store" }).then(function (r) {
      if (!r.ok) throw new Error("csrf " + r.status);
      return r.json();
    });
  }

  function sendOne(record, token) {
    return fetch("/api/notes/" + record.id, {
      method: "PUT", credentials: "same-origin", cache: "no-store",
      headers: { "Content-Type": "application/json", "X-CSRFToken": token },
      body: JSON.stringify({ badge: record.badge, body: record.body, offer: record.offer, met_at: record.met_at })
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (response.ok) return remove(record.id).then(function () { return { ok: true, data: data, record: record }; });
        if (response.status === 401) {
          // The sign-in ended (expired, or ended elsewhere): the note waits, with backoff, for its author to
          // log in again on this phone, and then goes out by itself.
          record.error = data.message || t("Log in to sync this note. It is safe on this phone.");
          return backoff(record).then(function () { return { ok: false, signedOut: true, record: record }; });
        }
        if (response.status >= 400 && response.status < 500 && response.status !== 429 && response.status !== 408) {
          // Something the person has to fix (or log in again): keep it, say why, never drop it.
          record.state = "error";
          record.error = data.message || t("The server refused this note (%(status)s).", { status: response.status });
          return put(record).then(function () { return { ok: false, fatal: true, record: record }; });
        }
        throw new Error("server " + response.status);
      });
    });
  }

  function backoff(record) {
    record.attempts = (record.attempts || 0) + 1;
    record.next_try = Date.now() + Math.min(MAX_BACKOFF, 1000 * Math.pow(2, record.attempts));
    return put(record);
  }

  function sendAll(records, token, results) {
    return records.reduce(function (chain, record) {
      return chain.then(function () {
        return sendOne(record, token).then(function (result) { results.push(result); });
      });
    }, Promise.resolve()).then(function () { return results; });
  }

  // Send every note that is due; one flush at a time per page or worker, and one at a time across
  // the pages and the service worker (Web Locks), so a note is never sent by both (one write per note).
  function flush(options) {
    if (flushing) return flushing;
    var locks = scope.navigator && scope.navigator.locks;
    flushing = (locks ? locks.request("relbuild-outbox-flush", function () { return flushNow(options); })
      : flushNow(options)).finally(function () { flushing = null; });
    return flushing;
  }

  function flushNow(options) {
    var force = options && options.force;
    var results = [];
    return all().then(function (items) {
      var due = items.filter(function (i) { return i.state !== "error" && (force || !i.next_try || i.next_try <= Date.now()); });
      if (!due.length) return [];
      return freshToken().then(function (auth) {
        if (!auth.signed_in) {
          // Kept waiting (with backoff) until its author logs in again on this phone.
          return Promise.all(due.map(function (r) {
            r.error = t("Log in to sync this note. It is safe on this phone.");
            return backoff(r);
          })).then(function () { return []; });
        }
        // Only the notes of whoever is signed in now; another account's wait for that account. A note
        // saved without an account (while signed out) waits for someone to say it is theirs.
        var unowned = due.filter(function (r) { return !r.account; });
        return Promise.all(unowned.map(function (r) {
          r.state = "error"; r.error = t("Saved while nobody was logged in. If it is yours, tap Save and try again.");
          return put(r);
        })).then(function () {
          return sendAll(due.filter(function (r) { return r.account === auth.account; }), auth.token, results);
        });
      }).catch(function (error) {
        // Offline, a dropped connection or a server hiccup: try again later, with backoff.
        return all().then(function (left) {
          return Promise.all(left.filter(function (r) { return r.state !== "error"; }).map(backoff));
        }).then(function () { throw error; });
      });
    }).finally(function () {
      return announce(results.filter(function (r) { return r.ok; }).length);
    });
  }

  // Let the person retry a note after fixing it (or after logging in again).
  function retry(id, changes) {
    return all().then(function (items) {
      var record = items.filter(function (i) { return i.id === id; })[0];
      if (!record) return null;
      Object.assign(record, changes || {}, { state: "pending", error: "", attempts: 0, next_try: 0 });
      return put(record).then(announce);
    });
  }

  function discard(id) { return remove(id).then(announce); }

  // Signing out: nothing of this account stays readable on the phone (its queued notes, the names it saw).
  function forget(account) {
    return all().then(function (items) {
      return Promise.all(items.filter(function (i) { return i.account === account; }).map(function (i) { return remove(i.id); }));
    }).then(function () {
      return run("people", "readwrite", function (s) { return s.clear(); });
    }).then(announce);
  }

  function rememberPerson(token, name) {
    return run("people", "readwrite", function (s) { return s.put({ token: token, name: name }); });
  }

  function person(token) {
    return run("people", "readonly", function (s) { return s.get(token); });
  }

  // Messages: the page names its language's catalog (JSON, a static URL: no inline script) on <html
  // data-catalog>; t() gives the English text until it has loaded, and the service worker keeps it.
  // In the service worker (background sync), /sw.js names them: its shell's language and catalog, which
  // it keeps in its cache, so a note refused while the page is closed is explained in the reader's language.
  var catalog = {};
  var lang = (scope.document ? document.documentElement.lang : scope.RELBUILD_LANGUAGE) || "en";
  var catalogUrl = scope.document ? document.documentElement.getAttribute("data-catalog") : scope.RELBUILD_CATALOG;
  function load(url) {
    var cached = scope.caches ? scope.caches.match(url) : Promise.resolve(null);
    return cached.then(function (hit) { return hit || fetch(url, { credentials: "same-origin" }); });
  }
  var ready = !catalogUrl || lang === "en" ? Promise.resolve() : load(catalogUrl)
    .then(function (r) { return r.ok ? r.json() : {}; }).then(function (c) { catalog = c || {}; })
    .catch(function () { return null; });
  function fill(text, params) {
    return text.replace(/%\((\w+)\)[sd]/g, function (all, key) { return params && key in params ? String(params[key]) : all; });
  }
  function t(message, params) {
    var text = catalog[message];
    return fill(typeof text === "string" && text ? text : message, params);
  }
  // Plural rules by language, as in each catalog's Plural-Forms (CLDR): French uses the singular for 0 and 1,
  // and a form of its own for whole millions.
  var PLURAL = { fr: function (n) { return n === 0 || n === 1 ? 0 : n % 1000000 === 0 ? 1 : 2; } };
  function tn(one, many, n, params) {
    var index = (PLURAL[lang] || function (k) { return k === 1 ? 0 : 1; })(n);
    var forms = catalog[one];
    var text = Array.isArray(forms) && forms[index] ? forms[index] : (index === 0 ? one : many);
    var all = { num: n };
    for (var key in params || {}) all[key] = params[key];
    return fill(text, all);
  }
  scope.RelbuildI18n = { t: t, tn: tn, ready: ready };

  scope.RelbuildOutbox = {
    save: save, flush: flush, counts: counts, retry: retry, discard: discard, forget: forget,
    rememberPerson: rememberPerson, person: person, channel: CHANNEL
  };
})(self);
