/* Pay page: fetch a fresh single-use pay code shortly before the current one expires. */
(function () {
  "use strict";
  var area = document.getElementById("pay-code-area");
  if (!area || !window.fetch) return;
  var url = area.getAttribute("data-refresh-url");
  function schedule() {
    var code = area.querySelector("[data-pay-code]");
    var ttl = code ? parseInt(code.getAttribute("data-ttl"), 10) || 60 : 60;
    window.setTimeout(refresh, Math.max(5, ttl - 10) * 1000);
  }
  function refresh() {
    fetch(url, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.text(); })
      .then(function (html) { area.innerHTML = html; schedule(); })
      .catch(function () { window.setTimeout(refresh, 5000); });
  }
  schedule();
})();
