{% load i18n %}/* CivicPush citizen service worker (served from /sw.js so its scope is the whole site).
 * Cache-versioned: a new version drops the old caches.
 * - Navigations: network first; when the network fails, the copy kept on this device, else /offline/.
 * - Pages the server marks with "CivicPush-Offline: keep" (the inbox and each message the citizen has
 *   opened) are kept on this device although they are private, so messages already loaded stay
 *   readable offline. Other pages are kept only when public (no "no-store"/"private").
 *   The copies are personal: signing out (or deleting the account) clears them, by a message from
 *   citizen.js and by the Clear-Site-Data header on the sign-out response.
 * - /static/: cache first. /media/ (push images, checked per citizen): network first, then the copy.
 * - Web Push: a push shows its nudge (title, body, icon, image); a tap opens the push in the inbox
 *   through /m/<id>/opened/, which counts the click. */
const VERSION = "{{ cache_version }}-2";
const SHELL_CACHE = "civicpush-shell-" + VERSION;
const PAGE_CACHE = "civicpush-pages-" + VERSION;
const MEDIA_CACHE = "civicpush-media-" + VERSION;
const PRECACHE = {{ precache_urls|safe }};
const STATIC_PREFIX = "{{ static_prefix|escapejs }}";
const MEDIA_PREFIX = "{{ media_prefix|escapejs }}";
const OFFLINE_URL = "/offline/";
const PERSONAL_CACHES = [PAGE_CACHE, MEDIA_CACHE];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL_CACHE).then((cache) => cache.addAll(PRECACHE)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  const keep = [SHELL_CACHE, PAGE_CACHE, MEDIA_CACHE];
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith("civicpush-") && !keep.includes(k)).map((k) => caches.delete(k))))
      .then(() => self.clients.claim())
  );
});

self.addEventListener("message", (event) => {
  const data = event.data || {};
  if (data.type === "signout") {
    const done = Promise.all(PERSONAL_CACHES.map((name) => caches.delete(name)));
    event.waitUntil(done);
  }
});

function keepable(response) {
  if (!response.ok || response.type !== "basic" || response.redirected) return false;
  if (response.headers.get("CivicPush-Offline") === "keep") return true;
  const cc = response.headers.get("Cache-Control") || "";
  return !/no-store|private/.test(cc);
}

function networkFirst(request, cacheName, fallback) {
  return fetch(request)
    .then((response) => {
      if (keepable(response) || (cacheName === MEDIA_CACHE && response.ok && !response.redirected)) {
        const copy = response.clone();
        caches.open(cacheName).then((cache) => cache.put(request, copy));
      }
      return response;
    })
    .catch(() => caches.match(request).then((hit) => hit || (fallback ? caches.match(fallback) : Response.error())));
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;

  if (request.mode === "navigate") {
    event.respondWith(networkFirst(request, PAGE_CACHE, OFFLINE_URL));
    return;
  }

  if (url.pathname.startsWith(MEDIA_PREFIX)) {
    event.respondWith(networkFirst(request, MEDIA_CACHE, null));
    return;
  }

  if (url.pathname.startsWith(STATIC_PREFIX)) {
    event.respondWith(
      caches.match(request).then((hit) => hit || fetch(request).then((response) => {
        if (response.ok) {
          const copy = response.clone();
          caches.open(SHELL_CACHE).then((cache) => cache.put(request, copy));
        }
        return response;
      }))
    );
  }
});

/* Web Push (civicpush/delivery): the payload is a nudge, JSON {push_id, title, body, url, icon, image}
 * — never personal data; the push itself is read in the inbox, signed in. */
const APP_NAME = "{% translate 'CivicPush' as app_name %}{{ app_name|escapejs }}";
const DEFAULT_ICON = STATIC_PREFIX + "citizen_web/icons/icon-192.png";

function webUrl(value) {
  if (!value) return "";
  try {
    const url = new URL(value, self.location.origin);
    return url.protocol === "https:" || url.origin === self.location.origin ? url.href : "";
  } catch (e) {
    return "";
  }
}

self.addEventListener("push", (event) => {
  let nudge = {};
  try {
    nudge = event.data ? event.data.json() : {};
  } catch (e) {
    nudge = { body: event.data ? event.data.text() : "" };
  }
  const pushId = parseInt(nudge.push_id, 10) || null;
  const options = {
    body: nudge.body || "",
    icon: webUrl(nudge.icon) || DEFAULT_ICON,
    lang: "zh-Hant",
    data: { push_id: pushId, url: nudge.url || "" },
  };
  if (pushId) options.tag = "push-" + pushId;  // the same push twice shows once
  const image = webUrl(nudge.image);
  if (image) options.image = image;
  event.waitUntil(self.registration.showNotification(nudge.title || APP_NAME, options));
});

function openedUrl(data) {
  const pushId = parseInt(data && data.push_id, 10);
  if (pushId > 0) return "/m/" + pushId + "/opened/";  // records the click, then shows the push
  try {
    const url = new URL(data && data.url, self.location.origin);
    if (url.origin === self.location.origin) return url.pathname + url.search;
  } catch (e) { /* fall through */ }
  return "/";
}

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const target = openedUrl(event.notification.data);
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((windows) => {
      const mine = windows.find((w) => new URL(w.url).origin === self.location.origin && "navigate" in w);
      if (!mine) return self.clients.openWindow(target);
      return mine.focus()
        .then(() => mine.navigate(target))
        .catch(() => self.clients.openWindow(target));
    })
  );
});
