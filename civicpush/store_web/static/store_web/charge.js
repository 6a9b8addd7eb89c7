// Store charge page: a fresh idempotency key per payment attempt (kept when the same attempt is
// resubmitted), and the camera scanner through the BarcodeDetector API where the browser has it.
(function () {
  "use strict";
  var form = document.getElementById("charge-form");
  if (!form) return;
  var keyField = form.querySelector("[data-client-key]");
  // A page shown again after an error keeps the key of that attempt (the server echoes it back);
  // a fresh page gets a new key, so the next customer is a new attempt.
  if (keyField && !document.querySelector(".error-summary") && window.crypto && crypto.randomUUID) {
    keyField.value = "c" + crypto.randomUUID().replace(/-/g, "");
  }
  form.addEventListener("submit", function () {
    var button = form.querySelector("button[type=submit]");
    if (button) { button.disabled = true; setTimeout(function () { button.disabled = false; }, 8000); }
  });

  var start = document.querySelector("[data-scanner-start]");
  var box = document.querySelector("[data-scanner]");
  var video = document.querySelector("[data-scanner-video]");
  var stop = document.querySelector("[data-scanner-stop]");
  var codeField = document.getElementById("id_code");
  if (!("BarcodeDetector" in window) || !navigator.mediaDevices || !start) return;
  start.hidden = false;
  var stream = null;
  var running = false;
  function halt() {
    running = false;
    if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
    stream = null;
    box.hidden = true;
  }
  stop.addEventListener("click", halt);
  start.addEventListener("click", function () {
    var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } }).then(function (s) {
      stream = s;
      video.srcObject = s;
      box.hidden = false;
      running = true;
      video.play();
      function tick() {
        if (!running) return;
        detector.detect(video).then(function (codes) {
          if (codes.length && codes[0].rawValue) {
            codeField.value = codes[0].rawValue;
            halt();
            document.getElementById("id_amount").focus();
          } else {
            requestAnimationFrame(tick);
          }
        }).catch(function () { requestAnimationFrame(tick); });
      }
      tick();
    }).catch(function () { halt(); codeField.focus(); });
  });
})();
