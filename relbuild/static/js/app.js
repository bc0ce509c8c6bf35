// Progressive enhancement only: every form works without this file.
(function () {
  "use strict";

  // Prefill the time zone from the browser where the person has not chosen one.
  function prefillTimezone() {
    var zone;
    try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { return; }
    if (!zone) return;
    document.querySelectorAll("input[data-browser-timezone]").forEach(function (input) {
      if (!input.value) input.value = zone;
    });
    document.querySelectorAll(".prefill-timezone select").forEach(function (select) {
      if (Array.prototype.some.call(select.options, function (o) { return o.value === zone; })) select.value = zone;
    });
  }

  // Value suggestions: tapping a chip adds or removes it from the comma-separated field.
  function valueChips() {
    document.querySelectorAll("[data-chips-for]").forEach(function (box) {
      var input = document.getElementById(box.getAttribute("data-chips-for"));
      if (!input) return;
      box.hidden = false;
      function current() {
        return input.value.split(",").map(function (v) { return v.trim(); }).filter(Boolean);
      }
      function sync() {
        var lower = current().map(function (v) { return v.toLowerCase(); });
        box.querySelectorAll(".chip").forEach(function (chip) {
          chip.setAttribute("aria-pressed", String(lower.indexOf(chip.dataset.value.toLowerCase()) >= 0));
        });
      }
      box.addEventListener("click", function (event) {
        var chip = event.target.closest(".chip");
        if (!chip) return;
        var values = current();
        var value = chip.dataset.value;
        var index = values.map(function (v) { return v.toLowerCase(); }).indexOf(value.toLowerCase());
        if (index >= 0) values.splice(index, 1);
        else if (values.length < 3) values.push(value);
        input.value = values.join(", ");
        sync();
      });
      input.addEventListener("input", sync);
      sync();
    });
  }

  // Coming from the scanner (camera or typed code), the note box has focus so typing starts at once.
  // Plain navigation (People, a link) does not autofocus: a phone would pop its keyboard over the
  // person's name before they asked to write.
  var FOCUS_FLAG = "relbuild-focus-note";
  function markFromScanner() {
    document.querySelectorAll("form[action$='/connect']").forEach(function (form) {
      form.addEventListener("submit", function () { sessionStorage.setItem(FOCUS_FLAG, "1"); });
    });
  }
  function focusNoteFromScanner() {
    var flag = sessionStorage.getItem(FOCUS_FLAG);
    sessionStorage.removeItem(FOCUS_FLAG);
    var body = document.querySelector(".note-form textarea[name=body], [data-shell-note]:not([hidden]) textarea[name=body]");
    var editing = /[?&]edit=1/.test(location.search);
    if (body && (flag || editing)) {
      body.focus({ preventScroll: true });
      if (editing) body.setSelectionRange(body.value.length, body.value.length);
    }
  }

  // A link to a section inside a <details> (e.g. More → Follow-up emails) opens it.
  function openLinkedDetails() {
    var target = location.hash && document.getElementById(location.hash.slice(1));
    if (target && target.tagName === "DETAILS") target.open = true;
  }

  // A failed form: the error summary takes focus, so screen readers and eyes start there.
  function focusErrorSummary() {
    var summary = document.querySelector("[data-error-summary]");
    if (!summary) return;
    var details = summary.closest("details");
    if (details) details.open = true;
    summary.focus();
    summary.querySelectorAll("a[href^='#']").forEach(function (link) {
      link.addEventListener("click", function (event) {
        var target = document.getElementById(link.getAttribute("href").slice(1));
        if (!target) return;
        event.preventDefault();
        target.scrollIntoView({ block: "center" });
        target.focus();
      });
    });
  }

  // My badge: the phone's share sheet where there is one, otherwise copy the link.
  function shareBadge() {
    var button = document.querySelector("[data-share-badge]");
    if (!button) return;
    var status = document.querySelector("[data-share-status]");
    var canShare = !!navigator.share;
    if (!canShare && !(navigator.clipboard && navigator.clipboard.writeText)) return;
    if (!canShare) button.textContent = t("Copy my badge link");
    button.hidden = false;
    button.addEventListener("click", function () {
      var url = button.dataset.url;
      if (canShare) {
        navigator.share({ title: button.dataset.title, url: url }).catch(function () { return null; });
        return;
      }
      navigator.clipboard.writeText(url).then(function () {
        status.textContent = t("Link copied. Paste it in a message or an email.");
      }).catch(function () { status.textContent = t("Could not copy: press and hold the link above instead."); });
    });
  }

  var outbox = window.RelbuildOutbox;
  var syncTimer = null;
  var ACCOUNT_KEY = "relbuild-account";

  // Who writes on this phone now: the signed-in page says so; the offline shell remembers the last one.
  function currentAccount() {
    var account = document.body.dataset.account;
    if (account) localStorage.setItem(ACCOUNT_KEY, account);
    return account || localStorage.getItem(ACCOUNT_KEY) || "";
  }

  var i18n = window.RelbuildI18n || { t: function (m) { return m; }, tn: function (a, b, n) { return (n === 1 ? a : b).replace("%(num)d", n); }, ready: Promise.resolve() };
  var t = i18n.t, tn = i18n.tn;

  // The sync state in the header: nothing when all is synced; otherwise what waits and what to do.
  function showSync(counts) {
    renderOutboxList(counts.items);
    var el = document.querySelector("[data-sync-status]");
    if (!el || !document.body.classList.contains("signed-in")) return;
    el.classList.toggle("sync-error", counts.errors > 0);
    el.classList.toggle("sync-waiting", counts.pending > 0);
    if (counts.errors) el.textContent = tn("%(num)d note needs you", "%(num)d notes need you", counts.errors);
    else if (counts.pending) el.textContent = tn("%(num)d note waiting to sync", "%(num)d notes waiting to sync", counts.pending);
    else if (!navigator.onLine) el.textContent = t("Offline");
    else el.textContent = "";
    el.hidden = !el.textContent;
    if (el.textContent) el.setAttribute("title", el.textContent);
    clearTimeout(syncTimer);
    var next = counts.items.filter(function (i) { return i.state !== "error"; })
      .map(function (i) { return i.next_try || 0; }).sort()[0];
    if (next !== undefined) syncTimer = setTimeout(flush, Math.max(500, next - Date.now()));
  }

  // People and Follow-ups open in another tab (or this one) show a note synced from the phone
  // without a reload: the page's main content is fetched again and swapped in.
  var refreshing = null;
  function refreshLiveLists() {
    var main = document.getElementById("main");
    if (!main || !document.querySelector("[data-live-list]") || refreshing) return;
    refreshing = fetch(location.href, { credentials: "same-origin", cache: "no-store" }).then(function (r) {
      if (!r.ok) throw new Error(r.status);
      return r.text();
    }).then(function (html) {
      var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("main");
      var active = document.activeElement;
      // Never pull the rug from under someone typing a search.
      if (fresh && !(main.contains(active) && active !== main)) main.innerHTML = fresh.innerHTML;
    }).catch(function () { return null; }).finally(function () { refreshing = null; });
  }

  function refreshSync() { if (outbox) outbox.counts(currentAccount()).then(showSync).catch(function () { return null; }); }

  function flush(options) {
    if (!outbox || !navigator.onLine) { refreshSync(); return Promise.resolve([]); }
    return outbox.flush(options).catch(function () { return []; }).then(function (results) { refreshSync(); return results; });
  }

  function flash(text, kind) {
    var main = document.getElementById("main");
    var box = document.createElement("div");
    box.className = "flashes";
    box.setAttribute("role", "status");
    var p = document.createElement("p");
    p.className = "alert alert-" + (kind || "success");
    p.textContent = text;
    box.appendChild(p);
    main.insertBefore(box, main.firstChild);
  }

  function showStoredFlash() {
    // A note saved by the plain form (no outbox on this browser) comes back as ?saved=1 and the page shows
    // the message: keep it out of the address, so reloading or sharing the page does not say it again.
    if (/^\?saved=1$/.test(location.search) && window.history.replaceState) {
      history.replaceState(history.state, "", location.pathname + location.hash);
    }
    var stored = sessionStorage.getItem("relbuild-flash");
    if (!stored) return;
    sessionStorage.removeItem("relbuild-flash");
    try { var f = JSON.parse(stored); flash(f.text, f.kind); } catch (e) { return; }
  }

  // Notes are saved on the phone first, then synced: a dropped connection never loses one.
  function outboxForms() {
    document.querySelectorAll("form[data-outbox-form]").forEach(function (form) {
      var message = form.querySelector(".form-message");
      var badge = form.dataset.badge || shellBadge();
      if (!badge || !outbox || !window.indexedDB) return;
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        var body = form.elements.body.value.trim();
        var offer = form.elements.offer.value.trim();
        if (body.length < 10) {
          message.textContent = t("Write at least %(body_min)s characters: what did you talk about, what stood out?", { body_min: 10 });
          form.elements.body.focus();
          return;
        }
        var who = form.elements.who && !form.elements.who.closest("[hidden]") ? form.elements.who.value.trim() : "";
        var name = form.dataset.name || who;
        outbox.save({ account: currentAccount(), badge: badge, body: body, offer: offer, name: name }).then(function (record) {
          if (navigator.storage && navigator.storage.persist) navigator.storage.persist().catch(function () { return null; });
          message.textContent = t("Saving…");
          // The page sends the note itself; the service worker's background sync is only asked to
          // when this send did not get through (one network write per note, never two).
          return flush().then(function (results) {
            var mine = results.filter(function (r) { return r.record.id === record.id; })[0];
            if (mine && mine.ok) {
              var person = mine.data.person || name || t("them");
              sessionStorage.setItem("relbuild-flash", JSON.stringify({
                text: mine.data.hint ? t("Note about %(name)s saved. Tip: %(hint)s", { name: person, hint: mine.data.hint })
                  : t("Note about %(name)s saved.", { name: person }),
                kind: mine.data.hint ? "hint" : "success" }));
              if (form.dataset.badge) location.replace(location.pathname);
              else message.textContent = t("Note about %(name)s saved and synced.", { name: person });
            } else if (mine && (mine.fatal || mine.signedOut)) {
              message.textContent = mine.record.error;
            } else {
              registerBackgroundSync();
              message.textContent = t("Saved on this phone. It will sync by itself when you are back online.");
            }
            if (!(mine && mine.fatal)) showNext(form);
          });
        }).catch(function () {
          message.textContent = t("This phone could not store the note. Try again, or turn off private browsing.");
        });
      });
    });
  }

  // In the offline shell, a saved note leads straight to the next scan.
  function showNext(form) {
    var next = form.parentNode.querySelector("[data-shell-next]");
    if (!next) return;
    form.querySelector("button[type=submit]").hidden = true;
    next.hidden = false;
    next.querySelector("a").focus();
  }

  function registerBackgroundSync() {
    if (!("serviceWorker" in navigator)) return;
    navigator.serviceWorker.ready.then(function (reg) {
      if (reg.sync) return reg.sync.register("relbuild-outbox");
    }).catch(function () { return null; });
  }

  function shellBadge() {
    var match = location.pathname.match(/^\/c\/([A-Za-z0-9_-]{16,64})$/);
    return match ? match[1] : "";
  }

  // The offline shell: a note form for a badge link opened offline, or the scanner.
  function offlineShell() {
    var shell = document.querySelector("[data-offline-shell]");
    if (!shell) return;
    var badge = shellBadge();
    if (!badge) return;
    shell.querySelector("[data-shell-page]").hidden = true;
    shell.querySelector("[data-shell-note]").hidden = false;
    var title = shell.querySelector("[data-person-name]");
    var detail = shell.querySelector("[data-person-detail]");
    var form = shell.querySelector("form[data-outbox-form]");
    var who = shell.querySelector("[data-shell-who]");
    title.textContent = t("Badge …%(end)s", { end: badge.slice(-6) });
    detail.textContent = t("Offline: their name and profile appear when you are back online.");
    if (who) who.hidden = false;
    if (!outbox) return;
    outbox.person(badge).then(function (known) {
      if (known && known.name) {
        title.textContent = known.name;
        detail.textContent = "";
        form.dataset.name = known.name;
        if (who) who.hidden = true;
      }
    }).catch(function () { return null; });
  }

  // /offline opened on purpose while online is the list of notes on this phone, not "You are offline".
  function offlinePageTitle() {
    var page = document.querySelector("[data-shell-page]");
    if (!page || page.hidden || location.pathname !== "/offline" || !navigator.onLine) return;
    page.hidden = true;
    document.querySelector("[data-shell-online]").hidden = false;
    document.title = t("Notes on this phone") + " · Relbuild";
  }

  function rememberPerson() {
    var form = document.querySelector("form[data-outbox-form][data-badge]");
    if (form && outbox) outbox.rememberPerson(form.dataset.badge, form.dataset.name).catch(function () { return null; });
  }

  // Notes on this phone, on the offline page: what is waiting, and what needs fixing.
  function renderOutboxList(items) {
    var section = document.querySelector("[data-outbox-list]");
    if (!section) return;
    var list = section.querySelector("ul");
    section.hidden = !items.length;
    list.textContent = "";
    items.forEach(function (item) {
      var li = document.createElement("li");
      li.className = "card person";
      var name = document.createElement("p");
      name.className = "person-name";
      name.textContent = item.name || t("Badge …%(end)s", { end: item.badge.slice(-6) });
      var state = document.createElement("p");
      state.className = item.state === "error" ? "error" : "meta";
      state.textContent = item.state === "error" ? item.error : t("Waiting to sync");
      var body = document.createElement("textarea");
      body.value = item.body;
      body.setAttribute("aria-label", t("Note about %(name)s", { name: name.textContent }));
      body.readOnly = item.state !== "error";
      li.append(name, state, body);
      if (item.state === "error") {
        var row = document.createElement("div");
        row.className = "row";
        var retry = document.createElement("button");
        retry.type = "button"; retry.className = "btn btn-primary"; retry.textContent = t("Save and try again");
        retry.addEventListener("click", function () { outbox.retry(item.id, { body: body.value.trim(), account: currentAccount() }).then(flush); });
        var discard = document.createElement("button");
        discard.type = "button"; discard.className = "btn btn-danger"; discard.textContent = t("Discard");
        discard.addEventListener("click", function () {
          if (confirm(t("Discard this note? It has not reached the server."))) outbox.discard(item.id).then(refreshSync);
        });
        row.append(retry, discard);
        li.appendChild(row);
      }
      list.appendChild(li);
    });
  }

  // Signing out on a shared phone: notes not yet synced are named, and staying is the first choice;
  // once the person confirms, nothing of theirs stays on the phone.
  function guardSignOut() {
    document.querySelectorAll("form[data-sign-out]").forEach(function (form) {
      var warning = form.querySelector("[data-sign-out-warning]");
      var account = currentAccount();
      if (!outbox || !window.indexedDB || !warning) return;
      function leave() {
        localStorage.removeItem(ACCOUNT_KEY);
        sessionStorage.clear();
        outbox.forget(account).catch(function () { return null; }).then(function () { form.submit(); });
      }
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        flush().then(function () { return outbox.counts(account); }).then(function (c) {
          var mine = c.items.filter(function (i) { return i.account === account; }).length;
          if (!mine) return leave();
          warning.querySelector("[data-count]").textContent = tn("%(num)d note", "%(num)d notes", mine);
          warning.hidden = false;
          warning.querySelector("[data-stay]").focus();
        }).catch(leave);
      });
      warning.querySelector("[data-stay]").addEventListener("click", function () { warning.hidden = true; });
      warning.querySelector("[data-leave]").addEventListener("click", leave);
    });
  }

  function installHint() {
    var hint = document.querySelector("[data-install-hint]");
    if (!hint || localStorage.getItem("relbuild-install-dismissed")) return;
    var deferred = null;
    window.addEventListener("beforeinstallprompt", function (event) {
      event.preventDefault();
      deferred = event;
      hint.hidden = false;
    });
    hint.querySelector("[data-install]").addEventListener("click", function () {
      hint.hidden = true;
      if (deferred) deferred.prompt();
    });
    hint.querySelector("[data-install-dismiss]").addEventListener("click", function () {
      hint.hidden = true;
      localStorage.setItem("relbuild-install-dismissed", "1");
    });
  }

  function serviceWorker() {
    if (!("serviceWorker" in navigator)) return;
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () { return null; });
  }

  function start() {
    prefillTimezone();
    valueChips();
    showStoredFlash();
    serviceWorker();
    installHint();
    offlineShell();
    offlinePageTitle();
    markFromScanner();
    focusNoteFromScanner();
    focusErrorSummary();
    openLinkedDetails();
    shareBadge();
    rememberPerson();
    outboxForms();
    guardSignOut();
    if (outbox && window.BroadcastChannel) new BroadcastChannel(outbox.channel).onmessage = function (event) {
      refreshSync();
      if (event.data && event.data.synced) refreshLiveLists();  // a note reached the server: lists change
    };
    window.addEventListener("online", flush);
    window.addEventListener("offline", refreshSync);
    document.addEventListener("visibilitychange", function () { if (!document.hidden) flush(); });
    flush({ force: true });  // a page load is the moment to try (after logging in again, say), whatever the backoff
  }
  function startWhenReady() { i18n.ready.then(start, start); }  // messages in the page's language first
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", startWhenReady);
  else startWhenReady();
})();
