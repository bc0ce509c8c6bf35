// Passkeys (WebAuthn) on the sign-up, log-in, account and confirmation pages.
// Buttons marked data-passkey are hidden until this file finds a browser that can make passkeys;
// without one, every page keeps its password form (and says why there is no passkey button).
(function () {
  "use strict";

  var t = (window.RelbuildI18n || { t: function (m) { return m; } }).t;
  var supported = !!(window.PublicKeyCredential && navigator.credentials && window.isSecureContext);
  // Passkeys belong to the server's one address (BASE_URL); on another name for it they cannot work.
  var script = document.currentScript;
  var home = script && script.getAttribute("data-origin");
  var elsewhere = !!(home && home !== window.location.origin);

  function b64url(buffer) {
    var bytes = new Uint8Array(buffer), text = "";
    for (var i = 0; i < bytes.length; i++) text += String.fromCharCode(bytes[i]);
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function bytes(text) {
    var plain = atob(text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4));
    var out = new Uint8Array(plain.length);
    for (var i = 0; i < plain.length; i++) out[i] = plain.charCodeAt(i);
    return out.buffer;
  }

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrfToken()},
      body: JSON.stringify(body || {})
    }).then(function (response) {
      if (response.status === 204) return {};
      return response.json().catch(function () {
        return {error: "http_" + response.status, message: t("Something went wrong (%(status)s). Try again.", { status: response.status })};
      }).then(function (data) {
        if (!response.ok) throw data;
        return data;
      });
    });
  }

  function creationOptions(options) {
    options.challenge = bytes(options.challenge);
    options.user.id = bytes(options.user.id);
    (options.excludeCredentials || []).forEach(function (c) { c.id = bytes(c.id); });
    return {publicKey: options};
  }

  function requestOptions(options) {
    options.challenge = bytes(options.challenge);
    (options.allowCredentials || []).forEach(function (c) { c.id = bytes(c.id); });
    return {publicKey: options};
  }

  function credentialJSON(credential) {
    var r = credential.response;
    var out = {id: credential.id, rawId: b64url(credential.rawId), type: credential.type,
               clientExtensionResults: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {},
               response: {clientDataJSON: b64url(r.clientDataJSON)}};
    if (credential.authenticatorAttachment) out.authenticatorAttachment = credential.authenticatorAttachment;
    if (r.attestationObject) {
      out.response.attestationObject = b64url(r.attestationObject);
      if (r.getTransports) out.response.transports = r.getTransports();
    } else {
      out.response.authenticatorData = b64url(r.authenticatorData);
      out.response.signature = b64url(r.signature);
      if (r.userHandle) out.response.userHandle = b64url(r.userHandle);
    }
    return out;
  }

  function say(button, text) {
    var box = button.closest("[data-passkey-box]") || document;
    var status = box.querySelector("[data-passkey-status]");
    if (!status) return;
    status.textContent = text || "";
    status.hidden = !text;
  }

  function explain(error) {
    if (error && error.message && !(error instanceof Error)) return error.message;  // the server's words
    if (error && error.name === "NotAllowedError") return t("No passkey was used (it was cancelled or timed out). Try again, or use your password.");
    if (error && error.name === "InvalidStateError") return t("This device already has a passkey for your account.");
    return t("The passkey did not work on this device. Try again, or use your password.");
  }

  function create(optionsUrl, body) {
    return post(optionsUrl, body).then(function (options) {
      return navigator.credentials.create(creationOptions(options));
    }).then(credentialJSON);
  }

  function get(optionsUrl) {
    return post(optionsUrl).then(function (options) {
      return navigator.credentials.get(requestOptions(options));
    }).then(credentialJSON);
  }

  function nextPath() {
    return new URLSearchParams(window.location.search).get("next") || "";
  }

  function field(form, name) {
    var input = form && form.querySelector('[name="' + name + '"]');
    return input ? input.value : "";
  }

  var ceremonies = {
    signup: function (button) {
      var form = button.closest("form");
      return create("/api/passkeys/signup/options", {
        name: field(form, "name"), email: field(form, "email"), timezone: field(form, "timezone")
      }).then(function (credential) {
        return post("/api/passkeys/signup", {credential: credential, next: nextPath()});
      });
    },
    login: function (button) {
      var next = button.getAttribute("data-next") || nextPath();
      return get("/api/passkeys/login/options").then(function (credential) {
        return post("/api/passkeys/login", {credential: credential, next: next});
      });
    },
    add: function (button) {
      var box = button.closest("[data-passkey-box]");
      var password = box && box.querySelector('input[type="password"]');
      var proved = password ? Promise.resolve() : reauth();
      return proved.then(function () {
        return create("/api/passkeys/add/options", {password: password ? password.value : ""});
      }).then(function (credential) {
        return post("/api/passkeys", {credential: credential});
      });
    }
  };

  function reauth() {
    return get("/api/passkeys/reauth/options").then(function (credential) {
      return post("/api/passkeys/reauth", {credential: credential});
    });
  }

  function go(to) {
    var target = new URL(to, window.location.href);
    if (target.pathname === window.location.pathname && target.search === window.location.search) {
      window.location.hash = target.hash;  // the same page: show it again, with its new message
      window.location.reload();
    } else {
      window.location.assign(target.href);
    }
  }

  function run(button, ceremony) {
    button.disabled = true;
    say(button, "");
    ceremony(button).then(function (answer) {
      if (answer && answer.redirect) go(answer.redirect);
      else button.disabled = false;
    }).catch(function (error) {
      button.disabled = false;
      say(button, explain(error));
    });
  }

  function pointHome(button) {
    var box = button.closest("[data-passkey-box]") || button.parentNode;
    if (box.querySelector("[data-passkey-home]")) return;
    var note = document.createElement("p"), link = document.createElement("a");
    note.className = "hint";
    note.setAttribute("data-passkey-home", "");
    link.href = home + window.location.pathname + window.location.search;
    link.textContent = home;
    // One sentence with the link in its place, whatever the language's word order.
    var parts = t("Passkeys work at %(address)s, this server's address: open it there to use one.").split("%(address)s");
    note.append(parts[0], link, parts[1] || "");
    box.appendChild(note);
  }

  document.querySelectorAll("[data-passkey]").forEach(function (button) {
    var kind = button.getAttribute("data-passkey");
    if (supported && elsewhere) (window.RelbuildI18n ? window.RelbuildI18n.ready : Promise.resolve())
      .then(function () { pointHome(button); });
    if (!supported || elsewhere) return;
    button.hidden = false;
    if (kind === "reauth-submit") {
      // A form that needs a fresh passkey first (removing a passkey from a passkey-only account).
      button.form.addEventListener("submit", function (event) {
        event.preventDefault();
        button.disabled = true;
        say(button, "");
        reauth().then(function () { button.form.submit(); }).catch(function (error) {
          button.disabled = false;
          say(button, explain(error));
        });
      });
      return;
    }
    button.addEventListener("click", function () { run(button, ceremonies[kind]); });
  });

  document.querySelectorAll("[data-passkey-unsupported]").forEach(function (note) { note.hidden = supported; });
  document.querySelectorAll("[data-passkey-extra]").forEach(function (extra) { extra.hidden = !supported || elsewhere; });
})();
