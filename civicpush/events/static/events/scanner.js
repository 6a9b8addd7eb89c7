// QR scanner for event check-in (staff) and self check-in (citizen). Reads the camera with the
// browser's BarcodeDetector where it exists, else jsQR; manual entry is the fallback. Staff scans
// work offline: confirmed tickets are cached as SHA-256 hashes, scans queue in localStorage with
// their nonce and upload when the connection returns (the server records each nonce once).
(function () {
  "use strict";
  var root = document.querySelector("[data-scanner]");
  if (!root) return;
  var mode = root.dataset.mode; // "staff" or "self"
  var scanUrl = root.dataset.scanUrl;
  var batchUrl = root.dataset.batchUrl;
  var ticketsUrl = root.dataset.ticketsUrl;
  var eventId = root.dataset.eventId || "self";
  var resultBox = root.querySelector("[data-result]");
  var video = root.querySelector("[data-video]");
  var manual = root.querySelector("[data-manual]");
  var csrf = manual.querySelector("input[name=csrfmiddlewaretoken]").value;
  var queueKey = "civicpush-scan-queue-" + eventId;
  var ticketsKey = "civicpush-tickets-" + eventId;
  var seenKey = "civicpush-seen-" + eventId;
  var lastCode = "", lastAt = 0;
  var t = root.dataset;

  function nonce() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  function kind() {
    var checked = root.querySelector("input[name=kind]:checked");
    return checked ? checked.value : "in";
  }
  function show(text, level) {
    resultBox.textContent = text;
    resultBox.className = "scan-result scan-" + (level || "info");
  }
  function load(key, fallback) {
    try { return JSON.parse(localStorage.getItem(key)) || fallback; } catch (e) { return fallback; }
  }
  function save(key, value) { localStorage.setItem(key, JSON.stringify(value)); }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrf, "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(body).toString(),
    }).then(function (r) {
      return r.json().then(function (data) { data.httpStatus = r.status; return data; });
    });
  }

  function sha256hex(text) {
    return crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)).then(function (buf) {
      return Array.prototype.map.call(new Uint8Array(buf), function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
    });
  }

  function offlineScan(scan) {
    var queue = load(queueKey, []);
    queue.push(scan);
    save(queueKey, queue);
    var parts = scan.code.split(".");
    var cache = load(ticketsKey, null);
    if (!cache || parts.length !== 3 || parts[0] !== "CPT1") { show(t.msgOfflineUnknown, "warn"); return; }
    if (parts[1] !== String(eventId)) { show(t.msgWrongEvent, "error"); return; }
    sha256hex(parts[2]).then(function (hash) {
      var seen = load(seenKey, {});
      var slot = hash + ":" + scan.kind;
      if (!(hash in cache.tickets)) show(t.msgNotRegistered, "error");
      else if (seen[slot] || (scan.kind === "in" ? cache.tickets[hash][0] : cache.tickets[hash][1])) show(t.msgOfflineAlready, "warn");
      else { seen[slot] = true; save(seenKey, seen); show(t.msgOfflineOk, "ok"); }
    });
  }

  function upload() {
    if (!batchUrl) return;
    var queue = load(queueKey, []);
    if (!queue.length || !navigator.onLine) return;
    post(batchUrl, { scans: JSON.stringify(queue) }).then(function (data) {
      if (data.httpStatus === 200) {
        save(queueKey, []);
        show(t.msgUploaded.replace("{n}", String(data.recorded)), "info");
        refreshTickets();
      }
    }).catch(function () {});
  }

  function refreshTickets() {
    if (!ticketsUrl) return;
    fetch(ticketsUrl, { credentials: "same-origin" }).then(function (r) { return r.json(); })
      .then(function (data) { save(ticketsKey, data); save(seenKey, {}); }).catch(function () {});
  }

  function submit(code) {
    code = (code || "").trim();
    if (!code) return;
    var scan = { code: code, kind: kind(), nonce: nonce(), scanned_at: new Date().toISOString() };
    if (mode === "staff" && !navigator.onLine) { offlineScan(scan); return; }
    post(scanUrl, scan).then(function (data) {
      var level = data.ok ? "ok" : (data.result === "already" ? "warn" : "error");
      show(data.message + (data.event ? " · " + data.event : ""), level);
    }).catch(function () {
      if (mode === "staff") offlineScan(scan); else show(t.msgNetwork || "", "error");
    });
  }

  function decodeLoop(detector, canvas, ctx) {
    if (video.readyState >= 2) {
      var found = null;
      var done = function (text) {
        var now = Date.now();
        if (text && (text !== lastCode || now - lastAt > 3000)) { lastCode = text; lastAt = now; submit(text); }
        requestAnimationFrame(function () { decodeLoop(detector, canvas, ctx); });
      };
      if (detector) {
        detector.detect(video).then(function (codes) { done(codes.length ? codes[0].rawValue : null); }).catch(function () { done(null); });
        return;
      }
      canvas.width = video.videoWidth; canvas.height = video.videoHeight;
      ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
      var image = ctx.getImageData(0, 0, canvas.width, canvas.height);
      found = window.jsQR ? window.jsQR(image.data, image.width, image.height, { inversionAttempts: "dontInvert" }) : null;
      done(found ? found.data : null);
      return;
    }
    requestAnimationFrame(function () { decodeLoop(detector, canvas, ctx); });
  }

  var startButton = root.querySelector("[data-start-camera]");
  startButton.addEventListener("click", function () {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) { show(t.msgNoCamera || "", "warn"); return; }
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false }).then(function (stream) {
      video.srcObject = stream; video.hidden = false; video.play();
      startButton.hidden = true;
      var detector = ("BarcodeDetector" in window) ? new window.BarcodeDetector({ formats: ["qr_code"] }) : null;
      var canvas = document.createElement("canvas");
      decodeLoop(detector, canvas, canvas.getContext("2d", { willReadFrequently: true }));
    }).catch(function () { show(t.msgNoCamera || "", "warn"); });
  });

  manual.addEventListener("submit", function (e) {
    e.preventDefault();
    var input = manual.querySelector("input[name=code]");
    submit(input.value);
    input.value = "";
  });

  if (mode === "staff") {
    refreshTickets();
    upload();
    window.addEventListener("online", upload);
  }
})();
