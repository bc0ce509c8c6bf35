/* Relbuild service worker, push part (imported by /sw.js): a follow-up prompt pushed by the server is shown
   as a notification; its buttons use the same signed links as the email ("Remind me in a week" works without
   opening a page). */
"use strict";
(function () {
  const ICON = self.RELBUILD_ICON || "/static/icons/icon-192.png";  // (set by /sw.js, with its version)

  self.addEventListener("push", (event) => {
    let data;
    try {
      data = event.data ? event.data.json() : {};
    } catch (e) {
      data = { body: event.data ? event.data.text() : "" };
    }
    const links = {};
    (data.actions || []).forEach((a) => { if (a && a.action && a.url) links[a.action] = a.url; });
    const options = {
      body: data.body || "",
      icon: ICON,
      badge: ICON,
      tag: data.tag || "relbuild",
      // The server writes every word in the reader's language, the snooze confirmation too.
      data: { url: data.url || "/followups", person: data.person_url, links: links, snoozed: data.snoozed },
      actions: (data.actions || []).map((a) => ({ action: a.action, title: a.title })),
    };
    event.waitUntil(self.registration.showNotification(data.title || "Relbuild", options));
  });

  function sameOrigin(url) {
    try { return new URL(url, self.location.origin).origin === self.location.origin; } catch (e) { return false; }
  }

  // The snooze link is a form on our own site: POST it with a CSRF token, as the page's button would.
  function snooze(link, notification) {
    if (!sameOrigin(link)) return Promise.resolve();
    return fetch("/api/csrf", { credentials: "same-origin", cache: "no-store" })
      .then((response) => response.json())
      .then((body) => fetch(link, { method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": body.token } }))
      .then((response) => {
        if (!response.ok) throw new Error("snooze refused: " + response.status);
        return self.registration.showNotification(notification.title, {
          body: (notification.data || {}).snoozed || "We will remind you in a week.", icon: ICON, tag: notification.tag, silent: true,
          data: { url: (notification.data || {}).url || "/followups", links: {} },
        });
      })
      .catch(() => openPage(link)); // offline or refused: the link's own page says what happened
  }

  function openPage(url) {
    return self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((windows) => {
      const open = windows.find((w) => w.url === new URL(url, self.location.origin).href);
      return open ? open.focus() : self.clients.openWindow(url);
    });
  }

  self.addEventListener("notificationclick", (event) => {
    const notification = event.notification;
    const data = notification.data || {};
    const links = data.links || {};
    notification.close();
    if (event.action === "snooze" && links.snooze) {
      event.waitUntil(snooze(links.snooze, notification));
      return;
    }
    const fallback = sameOrigin(data.url || "") ? data.url : "/followups";
    if (event.action === "write" && links.write) {
      // A mailto: draft when they share their email (some browsers open no mail app from here: then their page).
      const page = data.person && sameOrigin(data.person) ? data.person : fallback;
      event.waitUntil(openPage(links.write).catch(() => openPage(page)));
      return;
    }
    event.waitUntil(openPage(fallback));
  });
})();
