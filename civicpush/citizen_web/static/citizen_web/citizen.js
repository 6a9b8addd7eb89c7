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
