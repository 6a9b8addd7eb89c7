/* Compose a push: save as you go, live audience size, phone preview, images without a reload.
 * Text from the fields only ever reaches the page through textContent (never innerHTML). */
(function () {
  "use strict";
  var form = document.getElementById("compose-form");
  if (!form) return;
  var statusEl = document.getElementById("autosave-status");
  var summary = document.getElementById("compose-errors");
  var summaryList = document.getElementById("compose-error-list");
  var imageForm = document.getElementById("image-form");
  var submitForm = document.getElementById("submit-form");
  var DELAY = 2000;
  var timer = null;
  var inflight = null;
  var dirty = false;
  var lastOk = true;
  var autosaveOn = form.dataset.autosave === "on";

  function setStatus(text, cls) {
    statusEl.textContent = text || "";
    statusEl.className = "autosave-status" + (cls ? " " + cls : "");
  }

  function clearErrors() {
    form.querySelectorAll("[data-errors-for]").forEach(function (ul) {
      ul.textContent = "";
      ul.hidden = true;
    });
    form.querySelectorAll("[aria-invalid=true]").forEach(function (el) {
      if (!el.hasAttribute("data-width-counter")) el.removeAttribute("aria-invalid");
    });
    summaryList.textContent = "";
    summary.hidden = true;
  }

  function showErrors(errors, message) {
    clearErrors();
    var any = false;
    Object.keys(errors || {}).forEach(function (name) {
      var ul = form.querySelector('[data-errors-for="' + CSS.escape(name) + '"]');
      var target = ul || summaryList;
      errors[name].forEach(function (msg) {
        var li = document.createElement("li");
        li.textContent = msg;
        target.appendChild(li);
        if (ul) {
          var li2 = document.createElement("li");
          var label = form.querySelector('[data-field="' + CSS.escape(name) + '"] label, [data-field="' + CSS.escape(name) + '"] legend');
          li2.textContent = (label ? label.textContent.trim() + "：" : "") + msg;
          summaryList.appendChild(li2);
        }
      });
      if (ul) {
        ul.hidden = false;
        var input = form.querySelector('[name="' + CSS.escape(name) + '"]');
        if (input) input.setAttribute("aria-invalid", "true");
      }
      any = true;
    });
    if (!any && message) {
      var li = document.createElement("li");
      li.textContent = message;
      summaryList.appendChild(li);
      any = true;
    }
    summary.hidden = !any;
  }

  function becameSaved(data) {
    if (data.created) {
      form.action = data.edit_url;
      form.dataset.autosaveUrl = data.autosave_url;
      history.replaceState(null, "", data.edit_url);
      if (imageForm) { imageForm.action = data.images_url; imageForm.hidden = false; }
      var wait = document.getElementById("images-wait");
      if (wait) wait.hidden = true;
      if (submitForm) submitForm.action = data.submit_url;
    }
    var submitSection = document.getElementById("submit-section");
    if (submitSection && (data.status === "draft" || data.status === "returned")) submitSection.hidden = false;
  }

  function save() {
    if (inflight) return inflight.then(save);
    if (!dirty) return Promise.resolve(lastOk);
    dirty = false;
    setStatus(form.dataset.msgSaving);
    inflight = fetch(form.dataset.autosaveUrl, {
      method: "POST",
      body: new FormData(form),
      headers: { Accept: "application/json" },
      credentials: "same-origin"
    })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        lastOk = !!data.ok;
        if (data.ok) {
          clearErrors();
          setStatus(data.message, "saved");
          becameSaved(data);
        } else {
          showErrors(data.errors, data.message);
          setStatus(data.message || form.dataset.msgFailed, "failed");
        }
        return lastOk;
      })
      .catch(function () {
        dirty = true;
        lastOk = false;
        setStatus(form.dataset.msgOffline, "failed");
        return false;
      })
      .finally(function () { inflight = null; });
    return inflight;
  }

  function flush() {
    clearTimeout(timer);
    if (!autosaveOn) return Promise.resolve(true);
    if (dirty) return save();
    return inflight ? inflight : Promise.resolve(lastOk);
  }

  function changed() {
    updatePreview();
    if (!autosaveOn) return;
    dirty = true;
    setStatus(form.dataset.msgUnsaved);
    clearTimeout(timer);
    timer = setTimeout(save, DELAY);
  }

  /* --- preview ------------------------------------------------------------------------------- */
  function val(name) {
    var el = form.elements.namedItem(name);
    return el && "value" in el ? el.value : "";
  }
  function setPreview(key, text) {
    var el = document.querySelector('[data-preview="' + key + '"]');
    if (el) el.textContent = text;
  }
  function updatePreview() {
    var checked = form.querySelector('input[name="push_type"]:checked');
    setPreview("type", checked && checked.parentNode ? checked.parentNode.textContent.trim() : "");
    setPreview("title", val("title"));
    setPreview("subtitle", val("subtitle"));
    setPreview("body", val("body"));
    setPreview("link", val("link"));
  }

  /* --- audience ------------------------------------------------------------------------------ */
  var estimateEl = document.getElementById("audience-estimate");
  var estimateSeq = 0;
  function targetKind() {
    var k = form.querySelector('input[name="target_kind"]:checked');
    return k ? k.value : "groups";
  }
  function showTargetFields() {
    var kind = targetKind();
    document.querySelectorAll("[data-target]").forEach(function (el) {
      el.hidden = el.dataset.target !== kind;
    });
  }
  function estimate() {
    var params = new URLSearchParams();
    params.set("target_kind", targetKind());
    form.querySelectorAll('input[name="target_group_ids"]:checked').forEach(function (c) {
      params.append("target_group_ids", c.value);
    });
    if (form.dataset.hasPerson || val("target_person")) params.set("has_person", "1");
    var seq = ++estimateSeq;
    fetch(form.dataset.estimateUrl + "&" + params.toString(), { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (data) { if (seq === estimateSeq && estimateEl) estimateEl.textContent = data.text; })
      .catch(function () {});
  }

  form.addEventListener("input", changed);
  form.addEventListener("change", function (e) {
    var name = e.target && e.target.name;
    if (name === "target_kind" || name === "target_group_ids" || name === "target_person") {
      showTargetFields();
      estimate();
    }
    changed();
  });
  showTargetFields();
  updatePreview();
  window.addEventListener("beforeunload", function () { if (dirty && autosaveOn) save(); });

  /* --- images -------------------------------------------------------------------------------- */
  if (imageForm) {
    var imageStatus = document.getElementById("image-status");
    imageForm.addEventListener("submit", function (e) {
      e.preventDefault();
      flush().then(function () {
        imageStatus.textContent = imageForm.dataset.msgUploading;
        return fetch(imageForm.action, {
          method: "POST",
          body: new FormData(imageForm),
          headers: { Accept: "application/json" },
          credentials: "same-origin"
        });
      })
        .then(function (r) { return r.json(); })
        .then(function (data) {
          imageStatus.textContent = data.message || "";
          if (!data.ok) return;
          var li = document.createElement("li");
          var img = document.createElement("img");
          img.src = data.thumb_url;
          img.alt = data.alt || "";
          li.appendChild(img);
          var rm = document.createElement("form");
          rm.method = "post";
          rm.action = data.remove_url;
          var token = imageForm.querySelector('input[name="csrfmiddlewaretoken"]').cloneNode();
          rm.appendChild(token);
          var btn = document.createElement("button");
          btn.type = "submit";
          btn.className = "secondary small";
          btn.textContent = imageForm.dataset.msgRemove;
          rm.appendChild(btn);
          li.appendChild(rm);
          document.getElementById("thumbs").appendChild(li);
          var pimg = img.cloneNode();
          document.getElementById("preview-images").appendChild(pimg);
          imageForm.reset();
        })
        .catch(function () { imageStatus.textContent = form.dataset.msgOffline; });
    });
  }

  /* --- submit: save first, then send the draft for sign-off ----------------------------------- */
  if (submitForm) {
    submitForm.addEventListener("submit", function (e) {
      if (!autosaveOn) return;
      e.preventDefault();
      flush().then(function (ok) { if (ok) submitForm.submit(); });
    });
  }
})();
