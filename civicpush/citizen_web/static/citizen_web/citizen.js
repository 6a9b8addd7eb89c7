/* CivicPush citizen app: register the service worker; narrow the village list to the chosen township. */
(function () {
  "use strict";
  if ("serviceWorker" in navigator) {
    window.addEventListener("load", function () {
      navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function (err) {
        console.warn("service worker registration failed", err);
      });
    });
  }

  // Signing out or deleting the account: drop the copies of personal pages this device kept offline.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form || !form.hasAttribute || !form.hasAttribute("data-signout")) return;
    if ("serviceWorker" in navigator && navigator.serviceWorker.controller) {
      navigator.serviceWorker.controller.postMessage({ type: "signout" });
    }
  });

  var township = document.getElementById("id_township");
  var village = document.getElementById("id_village");
  var wrapper = document.querySelector("[data-villages-url]");
  if (!township || !village || !wrapper || !window.fetch) return;
  var url = wrapper.getAttribute("data-villages-url");
  var placeholder = village.options.length ? village.options[0].text : "";

  function load(keepSelection) {
    var selected = keepSelection ? village.value : "";
    if (!township.value) {
      village.innerHTML = "";
      village.add(new Option(placeholder, ""));
      village.disabled = true;
      return;
    }
    fetch(url + "?township=" + encodeURIComponent(township.value), { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        village.innerHTML = "";
        village.add(new Option(placeholder, ""));
        data.villages.forEach(function (v) {
          var option = new Option(v.name, String(v.id));
          if (String(v.id) === selected) option.selected = true;
          village.add(option);
        });
        village.disabled = false;
      })
      .catch(function () { /* keep the full, grouped list (the no-JavaScript fallback) */ });
  }
  township.addEventListener("change", function () { load(false); });
  load(true);
})();

/* Web Push (civicpush/delivery): the opt-in on the notification settings page and in the banner shown
 * after sign-in, this device's status, a last-seen report at most every few hours, and withdrawing this
 * browser's subscription when the citizen signs out (a shared browser must not keep their notices). */
(function () {
  "use strict";
  var SUBSCRIBE_URL = "/push/subscribe/";
  var SEEN_URL = "/push/seen/";
  var UNSUBSCRIBE_URL = "/push/unsubscribe/";
  var KEY_URL = "/push/key.json";
  var SEEN_KEY = "civicpush-push-seen";
  var DISMISSED_KEY = "civicpush-push-dismissed";
  var SEEN_EVERY_MS = 6 * 3600 * 1000;
  var supported = "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
  var signedIn = document.body && document.body.classList.contains("signed-in");

  function store(key, value) {
    try { if (value === null) localStorage.removeItem(key); else localStorage.setItem(key, String(value)); } catch (e) { /* private mode */ }
  }
  function stored(key) {
    try { return localStorage.getItem(key); } catch (e) { return null; }
  }
  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    if (input) return input.value;
    var match = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }
  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(body)
    });
  }
  function keyBytes(base64url) {
    var padded = base64url + "===".slice((base64url.length + 3) % 4);
    var raw = atob(padded.replace(/-/g, "+").replace(/_/g, "/"));
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }
  function sameKey(buffer, base64url) {
    if (!buffer) return true;
    var a = new Uint8Array(buffer), b = keyBytes(base64url);
    if (a.length !== b.length) return false;
    for (var i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  function askPermission() {
    return new Promise(function (resolve) {
      var result = Notification.requestPermission(resolve);  // (old Safari: a callback)
      if (result && result.then) result.then(resolve);
    });
  }
  function readyRegistration() {
    return navigator.serviceWorker.register("/sw.js", { scope: "/" }).then(function () { return navigator.serviceWorker.ready; });
  }
  function existingSubscription() {
    return navigator.serviceWorker.getRegistration("/").then(function (reg) { return reg ? reg.pushManager.getSubscription() : null; });
  }
  function register(subscription) {
    return post(SUBSCRIBE_URL, subscription.toJSON()).then(function (response) {
      if (!response.ok) throw new Error("server " + response.status);
      store(SEEN_KEY, Date.now());
      return response.json();
    });
  }
  function subscribe() {
    return askPermission().then(function (permission) {
      if (permission !== "granted") throw new Error(permission);
      return Promise.all([readyRegistration(), fetch(KEY_URL, { credentials: "same-origin" }).then(function (r) { return r.json(); })]);
    }).then(function (both) {
      var reg = both[0], key = both[1].applicationServerKey;
      return reg.pushManager.getSubscription().then(function (current) {
        if (current && current.options && !sameKey(current.options.applicationServerKey, key)) {
          return current.unsubscribe().then(function () { return null; });  // made with another server key
        }
        return current;
      }).then(function (current) {
        return current || reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(key) });
      });
    }).then(register);
  }
  function unsubscribe() {
    return existingSubscription().then(function (subscription) {
      if (!subscription) return null;
      return post(UNSUBSCRIBE_URL, { endpoint: subscription.endpoint })
        .catch(function () { return null; })
        .then(function () { return subscription.unsubscribe(); });
    }).then(function () { store(SEEN_KEY, null); });
  }
  function sha256Hex(text) {
    if (!window.crypto || !crypto.subtle || !window.TextEncoder) return Promise.resolve("");
    return crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)).then(function (digest) {
      return Array.prototype.map.call(new Uint8Array(digest), function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
    });
  }
  function isIOS() {
    return /iPhone|iPad|iPod/.test(navigator.userAgent) && !window.navigator.standalone;
  }

  // The settings page's panel and the inbox banner share their markup's data attributes.
  function setUp(panel) {
    var status = panel.querySelector("[data-push-status]");
    var enable = panel.querySelector("[data-push-enable]");
    var disable = panel.querySelector("[data-push-disable]");
    var reloadAfter = panel.hasAttribute("data-push-reload");
    function say(name) { if (status) status.textContent = panel.getAttribute("data-msg-" + name) || ""; }
    function show(el, visible) { if (el) el.hidden = !visible; }
    function refresh() {
      if (!supported) { say(isIOS() ? "ios" : "unsupported"); show(enable, false); show(disable, false); return; }
      if (Notification.permission === "denied") { say("denied"); show(enable, false); show(disable, false); return; }
      existingSubscription().then(function (subscription) {
        if (panel.hasAttribute("data-push-banner")) {
          panel.hidden = !!subscription || Notification.permission !== "default" || !!stored(DISMISSED_KEY);
          return;
        }
        say(subscription ? "on" : "off");
        show(enable, !subscription);
        show(disable, !!subscription);
        if (subscription) {
          sha256Hex("webpush:" + subscription.endpoint).then(function (hash) {
            var row = hash && document.querySelector('[data-device-hash="' + hash + '"] [data-this-device]');
            if (row) row.hidden = false;
          });
        }
      }).catch(function () { say("error"); });
    }
    if (enable) enable.addEventListener("click", function () {
      enable.disabled = true;
      say("working");
      subscribe().then(function () {
        say("on");
        if (panel.hasAttribute("data-push-banner")) { show(enable, false); show(panel.querySelector("[data-push-dismiss]"), false); }
        if (reloadAfter) window.location.reload(); else refresh();
      }).catch(function (err) {
        say(err && err.message === "denied" ? "denied" : "error");
      }).then(function () { enable.disabled = false; });
    });
    if (disable) disable.addEventListener("click", function () {
      disable.disabled = true;
      unsubscribe().then(function () {
        say("off");
        if (reloadAfter) window.location.reload(); else refresh();
      }).catch(function () { say("error"); }).then(function () { disable.disabled = false; });
    });
    var dismiss = panel.querySelector("[data-push-dismiss]");
    if (dismiss) dismiss.addEventListener("click", function () { store(DISMISSED_KEY, Date.now()); panel.hidden = true; });
    refresh();
  }
  Array.prototype.forEach.call(document.querySelectorAll("[data-push-panel]"), setUp);

  // Last seen: at most every few hours, tell the server this browser's subscription is in use;
  // when the server no longer knows it (removed elsewhere, moved to another account), register again.
  if (supported && signedIn && Notification.permission === "granted") {
    var last = parseInt(stored(SEEN_KEY) || "0", 10);
    if (!last || Date.now() - last > SEEN_EVERY_MS) {
      existingSubscription().then(function (subscription) {
        if (!subscription) return null;
        return post(SEEN_URL, { endpoint: subscription.endpoint }).then(function (r) { return r.ok ? r.json() : null; })
          .then(function (answer) {
            if (!answer) return null;
            if (!answer.known) return register(subscription);
            store(SEEN_KEY, Date.now());
            return null;
          });
      }).catch(function () { /* try again on a later visit */ });
    }
  }

  // Signing out (or deleting the account): withdraw this browser's subscription first.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!supported || !form || !form.hasAttribute || !form.hasAttribute("data-signout") || form.getAttribute("data-push-withdrawn")) return;
    if (Notification.permission !== "granted") return;
    event.preventDefault();
    form.setAttribute("data-push-withdrawn", "1");
    var done = false;
    function go() { if (!done) { done = true; form.submit(); } }
    setTimeout(go, 2000);
    unsubscribe().then(go, go);
  });
})();
