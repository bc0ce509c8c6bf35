// Follow-ups as notifications on this device: turned on only by a tap (the browser asks for permission then,
// never on page load), turned off the same way. The server keeps the subscription for this sign-in only.
(function () {
  "use strict";

  var box = document.querySelector("[data-push]");
  if (!box) return;
  var state = box.querySelector("[data-push-state]");
  var enable = box.querySelector("[data-push-enable]");
  var disable = box.querySelector("[data-push-disable]");
  var csrf = document.querySelector('meta[name="csrf-token"]');
  var t = (window.RelbuildI18n || { t: function (m) { return m; } }).t;

  function say(text) { state.textContent = text; }

  function show(on) {
    box.setAttribute("data-push-subscribed", on ? "yes" : "no");
    enable.hidden = on;
    disable.hidden = !on;
  }

  if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) {
    var ready = window.RelbuildI18n ? window.RelbuildI18n.ready : Promise.resolve();
    ready.then(function () { say(/iPhone|iPad/.test(navigator.userAgent)
      ? t("This browser cannot show notifications from Relbuild: add Relbuild to your home screen first, then open it from there. Your follow-ups still come by email and under this tab.")
      : t("This browser cannot show notifications from Relbuild. Your follow-ups still come by email and under this tab.")); });
    return;
  }

  function send(method, body) {
    return fetch(box.getAttribute("data-push-subscriptions"), {
      method: method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf ? csrf.content : "" },
      body: JSON.stringify(body)
    }).then(function (response) {
      if (!response.ok && response.status !== 204) {
        return response.json().catch(function () { return {}; }).then(function (problem) {
          throw new Error(problem.message || t("The server did not accept it (%(status)s).", { status: response.status }));
        });
      }
      return response;
    });
  }

  function keyBytes(base64url) {
    var base64 = base64url.replace(/-/g, "+").replace(/_/g, "/");
    var raw = atob(base64 + "===".slice((base64.length + 3) % 4));
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes;
  }

  function turnOn() {
    enable.disabled = true;
    say(t("Asking your phone for permission…"));
    Notification.requestPermission().then(function (permission) {
      if (permission !== "granted") {
        throw new Error(permission === "denied"
          ? t("Notifications are blocked for this site. Allow them in your browser's site settings, then try again.")
          : t("Notifications stay off: you did not allow them."));
      }
      return Promise.all([navigator.serviceWorker.ready,
        fetch(box.getAttribute("data-push-key"), { credentials: "same-origin" }).then(function (r) { return r.json(); })]);
    }).then(function (both) {
      var registration = both[0], key = both[1].key;
      return registration.pushManager.getSubscription().then(function (existing) {
        return existing || registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(key) })
          .catch(function (problem) {
            throw new Error(t("This browser could not reach its notification service (%(problem)s). Your follow-ups still come by email and under this tab.", { problem: problem.message }));
          });
      });
    }).then(function (subscription) {
      return send("POST", subscription.toJSON());
    }).then(function () {
      show(true);
      say(t("Notifications are on for this phone. Your next follow-up arrives here."));
    }).catch(function (error) {
      say(error.message || t("Notifications could not be turned on."));
    }).then(function () { enable.disabled = false; });
  }

  function turnOff() {
    disable.disabled = true;
    navigator.serviceWorker.ready.then(function (registration) {
      return registration.pushManager.getSubscription();
    }).then(function (subscription) {
      if (!subscription) return null;
      return send("DELETE", { endpoint: subscription.endpoint }).then(function () { return subscription.unsubscribe(); });
    }).then(function () {
      show(false);
      say(t("Notifications are off for this phone."));
    }).catch(function (error) {
      say(error.message || t("Notifications could not be turned off."));
    }).then(function () { disable.disabled = false; });
  }

  enable.addEventListener("click", turnOn);
  disable.addEventListener("click", turnOff);
  show(box.getAttribute("data-push-subscribed") === "yes" && Notification.permission === "granted");
})();
