// Decodes QR codes off the main thread with jsQR (installed from npm into static/vendor/).
"use strict";
self.importScripts(new URL(self.location.href).searchParams.get("jsqr"));
self.onmessage = function (event) {
  var frame = event.data;
  var found = self.jsQR(new Uint8ClampedArray(frame.pixels), frame.width, frame.height,
    { inversionAttempts: "attemptBoth" });
  self.postMessage({ id: frame.id, text: found ? found.data : null });
};
