// The in-app scanner: rear camera, BarcodeDetector where it reads QR codes, jsQR in a worker otherwise.
(function () {
  "use strict";
  var root = document.querySelector("[data-scanner]");
  if (!root) return;
  var t = (window.RelbuildI18n || { t: function (m) { return m; } }).t;
  var video = root.querySelector("video");
  var status = root.querySelector(".scanner-status");
  var startButton = root.querySelector("[data-start]");
  var torchButton = root.querySelector("[data-torch]");
  var help = root.querySelector(".scanner-help");
  var canvas = document.createElement("canvas");
  var stream = null, detector = null, worker = null, timer = null, busy = false, frameId = 0, lastOther = "";

  function say(text) { status.textContent = text; }

  function showHelp(text) {
    help.hidden = false;
    help.querySelector("p").textContent = text;
  }

  // What a scanned text is: a badge link, an event's join link, or something else.
  function classify(text) {
    var url;
    try { url = new URL(text); } catch (e) { return { kind: "other" }; }
    var origins = [location.origin, root.dataset.base];
    if (origins.indexOf(url.origin) < 0) return { kind: "other" };
    if (/^\/c\/[A-Za-z0-9_-]{16,64}$/.test(url.pathname)) return { kind: "badge", path: url.pathname };
    if (/^\/e\/[A-Za-z0-9_-]{4,64}$/.test(url.pathname)) return { kind: "event", path: url.pathname };
    return { kind: "other" };
  }

  function found(text) {
    var what = classify(text);
    if (what.kind === "other") {
      if (text !== lastOther) {
        lastOther = text;
        say(t("This QR code is not a Relbuild badge. It contains: %(text)s", { text: text.slice(0, 200) }));
      }
      return false;
    }
    stop();
    say(what.kind === "badge" ? t("Badge found, opening…") : t("Event found, opening…"));
    // The note page focuses its box when it was opened from here (app.js).
    if (what.kind === "badge") try { sessionStorage.setItem("relbuild-focus-note", "1"); } catch (e) { /* private mode */ }
    location.assign(what.path);
    return true;
  }

  function stop() {
    clearTimeout(timer);
    if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
    stream = null;
    if (worker) worker.terminate();
    worker = null;
    busy = false;
    root.classList.remove("live");
    startButton.hidden = false;
  }

  function pickDecoder() {
    if ("BarcodeDetector" in window && BarcodeDetector.getSupportedFormats) {
      return BarcodeDetector.getSupportedFormats().then(function (formats) {
        if (formats.indexOf("qr_code") >= 0) detector = new BarcodeDetector({ formats: ["qr_code"] });
      }).catch(function () { return null; });
    }
    return Promise.resolve();
  }

  function startWorker() {
    if (detector || worker) return true;
    if (!root.dataset.jsqr) return false;
    worker = new Worker(root.dataset.worker + "&jsqr=" + encodeURIComponent(root.dataset.jsqr));
    worker.onmessage = function (event) {
      busy = false;
      if (event.data.text) found(event.data.text);
    };
    return true;
  }

  function tick() {
    timer = setTimeout(tick, 150);
    if (busy || !stream || video.readyState < 2) return;
    if (detector) {
      busy = true;
      detector.detect(video).then(function (codes) {
        busy = false;
        for (var i = 0; i < codes.length; i++) if (found(codes[i].rawValue)) return;
      }).catch(function () { busy = false; });
      return;
    }
    var scale = Math.min(1, 720 / Math.max(video.videoWidth, video.videoHeight));
    canvas.width = Math.round(video.videoWidth * scale);
    canvas.height = Math.round(video.videoHeight * scale);
    var ctx = canvas.getContext("2d", { willReadFrequently: true });
    ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
    var frame = ctx.getImageData(0, 0, canvas.width, canvas.height);
    busy = true;
    worker.postMessage({ id: ++frameId, width: frame.width, height: frame.height, pixels: frame.data.buffer },
      [frame.data.buffer]);
  }

  function setupTorch() {
    var track = stream.getVideoTracks()[0];
    var caps = track && track.getCapabilities ? track.getCapabilities() : {};
    if (!caps.torch) return;
    torchButton.hidden = false;
    torchButton.addEventListener("click", function () {
      var on = torchButton.getAttribute("aria-pressed") !== "true";
      track.applyConstraints({ advanced: [{ torch: on }] }).then(function () {
        torchButton.setAttribute("aria-pressed", String(on));
      }).catch(function () { torchButton.hidden = true; });
    });
  }

  function start() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      showHelp(t("This browser cannot use the camera here. Use your phone's camera app on their QR code, type their code, or take a photo of it."));
      return;
    }
    startButton.hidden = true;
    say(t("Starting the camera…"));
    pickDecoder().then(function () {
      if (!startWorker()) {
        showHelp(t("The scanner could not load. Use your phone's camera app, type their code, or take a photo of it."));
        throw new Error("no decoder");
      }
      return navigator.mediaDevices.getUserMedia({ audio: false, video: { facingMode: { ideal: "environment" } } });
    }).then(function (s) {
      stream = s;
      video.srcObject = s;
      return video.play();
    }).then(function () {
      root.classList.add("live");
      say(t("Point the camera at their badge's QR code."));
      setupTorch();
      tick();
    }).catch(function (error) {
      startButton.hidden = false;
      if (error && error.name === "NotAllowedError") {
        showHelp(t("Camera access is blocked. To scan here, allow the camera for this site in your browser's settings (the icon next to the address), then try again. Or type their code, or take a photo of it."));
      } else if (error && (error.name === "NotFoundError" || error.name === "OverconstrainedError")) {
        showHelp(t("No camera was found. Type their code, or take a photo of the QR code."));
      } else if (error && error.message !== "no decoder") {
        showHelp(t("The camera could not start (%(error)s). Type their code, or take a photo of it.", { error: error.name || error }));
      }
      say("");
    });
  }

  startButton.addEventListener("click", start);
  document.addEventListener("visibilitychange", function () { if (document.hidden) stop(); });
  window.addEventListener("pagehide", stop);
  // Start at once when the camera is already allowed; otherwise wait for a tap (a clear permission prompt).
  if (navigator.permissions && navigator.permissions.query) {
    navigator.permissions.query({ name: "camera" }).then(function (p) { if (p.state === "granted") start(); })
      .catch(function () { return null; });
  }
})();
