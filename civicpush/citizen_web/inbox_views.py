"""The citizen's inbox and message pages, the link-through, and push images.

Visibility is the pushes domain's rule (`inbox.is_visible_to`, enforced again by `do_record_read` and
`do_record_click`): a push the citizen may not see answers 404 everywhere, never 403, so ids leak
nothing. Inbox and message pages carry the `CivicPush-Offline: keep` header, which tells the service
worker it may keep a copy on this device for reading offline (see sw.js).
"""

from __future__ import annotations

import datetime
import mimetypes
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib.humanize.templatetags.humanize import NaturalTimeFormatter
from django.core.files.storage import default_storage
from django.core.signals import setting_changed
from django.db.models import Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.template.loader import get_template
from django.urls import get_script_prefix
from django.utils import timezone, translation
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET

from civicpush.citizens.models import Citizen
from civicpush.citizens.topics import Topic
from civicpush.core.errors import NotFound
from civicpush.pushes import services as push_services
from civicpush.pushes.inbox import (
    InboxEntry,
    RememberedPage,
    clear_memos,
    is_visible_to,
    remembered_page,
    unread_count,
)
from civicpush.pushes.models import Push, PushImage, PushType
from civicpush.pushes.scheduling import TAIPEI
from civicpush.pushes.selectors import get_push
from civicpush.pushes.timeline import Entry

from .shell import Prefilled, finish, has_flash_messages, prefill, slot
from .templatetags.citizen_inbox import inbox_time
from .views import citizen_required

PAGE_SIZE = 20
OFFLINE_HEADER = "CivicPush-Offline"
SEARCH_MAX = 100


def _keep_offline(response: HttpResponse) -> HttpResponse:
    response[OFFLINE_HEADER] = "keep"
    return response


@dataclass(frozen=True)
class InboxQuery:
    topic: int | None
    push_type: str | None
    search: str
    before: datetime.datetime | None

    def params(self, **override: Any) -> str:
        """The query string of this view of the inbox (for chips and "load more")."""
        values: dict[str, Any] = {
            "topic": self.topic if self.topic is not None else "",
            "type": self.push_type or "",
            "q": self.search,
        }
        values.update(override)
        return urlencode({k: v for k, v in values.items() if v not in ("", None)})


_NO_QUERY = InboxQuery(topic=None, push_type=None, search="", before=None)


def _parse_query(request: HttpRequest) -> InboxQuery:
    """Unknown or malformed values are ignored (the unfiltered inbox), never an error page."""
    if not request.META.get("QUERY_STRING"):
        return _NO_QUERY  # the first page (most requests): no QueryDict to build
    topic: int | None = None
    try:
        value = int(request.GET.get("topic", ""))
        topic = value if value in Topic.values else None
    except ValueError:
        pass
    push_type = request.GET.get("type", "")
    before: datetime.datetime | None = None
    raw_before = request.GET.get("before", "")
    if raw_before:
        try:
            parsed = datetime.datetime.fromisoformat(raw_before)
            before = parsed if timezone.is_aware(parsed) else None
        except ValueError:
            before = None
    return InboxQuery(
        topic=topic,
        push_type=push_type if push_type in PushType.values else None,
        search=request.GET.get("q", "").strip()[:SEARCH_MAX],
        before=before,
    )


# --- the list: each item rendered once per process ------------------------------------------------

_ITEM_TEMPLATE = "citizen_web/_inbox_item.html"
_FILTERS_TEMPLATE = "citizen_web/_inbox_filters.html"
_FRAGMENTS_PER_ENTRY = 16  # variants kept per entry (language x read x pinned x time text)
_time_texts: dict[tuple[Any, ...], str] = {}


def _time_text(entry: Entry, today: datetime.date, language: str) -> str:
    """`inbox_time`: relative today, a date before (kept per day and language)."""
    if entry.day == today:  # (the entry's Asia/Taipei day)
        return _relative_text(entry.frozen_at, language)
    key = (entry.frozen_at, today, language)
    text = _time_texts.get(key)
    if text is None:
        if len(_time_texts) > 50_000:
            _time_texts.clear()
        text = _time_texts[key] = inbox_time(entry.frozen_at)
    return text


_relative_texts: dict[tuple[str, int, str], str] = {}


def _relative_text(value: datetime.datetime, language: str) -> str:
    """`naturaltime(value)` (what `inbox_time` shows today) for a moment less than a day ago, kept per
    (unit, count, language): its text depends on nothing else (NaturalTimeFormatter.string_for's
    branches, repeated here). Anything else goes to `inbox_time`."""
    now = datetime.datetime.now(datetime.UTC)  # (as naturaltime takes it)
    if value >= now or (now - value).days != 0:
        return inbox_time(value)
    seconds = (now - value).seconds
    if seconds == 0:
        key = ("now", 0, language)
    elif seconds < 60:
        key = ("past-second", seconds, language)
    elif seconds // 60 < 60:
        key = ("past-minute", seconds // 60, language)
    else:
        key = ("past-hour", seconds // 60 // 60, language)
    text = _relative_texts.get(key)
    if text is None:
        strings = NaturalTimeFormatter.time_strings
        text = str(strings["now"]) if key[0] == "now" else strings[key[0]] % {"count": key[1]}
        if len(_relative_texts) > 1_000:
            _relative_texts.clear()
        _relative_texts[key] = text
    return text


def _item_html(entry: InboxEntry, time_text: str, language: str, prefix: str) -> str:
    """The entry's <li>, from the process's cache of its fragments. Everything in it comes from the
    dispatch's timeline entry (the same for every citizen) except the read state and the time text,
    which are part of the cache key; the template escapes the text as any template does."""
    e = entry.entry
    key = (language, prefix, not entry.is_read, entry.pinned, time_text)
    html = e.fragments.get(key)
    if html is None:
        if len(e.fragments) >= _FRAGMENTS_PER_ENTRY:
            e.fragments.clear()
        html = e.fragments[key] = get_template(_ITEM_TEMPLATE).render(
            {
                "unread": not entry.is_read,
                "pinned": entry.pinned,
                "push_id": e.push_id,
                "push_type": e.push_type,
                "type_label": PushType(e.push_type).label if e.push_type in PushType.values else e.push_type,
                "frozen_at": e.frozen_at,
                "time_text": time_text,
                "title_tag": e.title_tag,
                "title": e.title,
                "subtitle": e.subtitle,
                "first_line": e.first_line,
                "thumbnail_url": default_storage.url(e.thumbnail) if e.thumbnail else "",
            }
        )
    return html


def _list_html(entries: list[InboxEntry], time_texts: tuple[str, ...], language: str, prefix: str) -> str:
    """The list items; `time_texts`: each entry's `_time_text`, in order."""
    if not entries:
        return ""
    items = (_item_html(e, text, language, prefix) for e, text in zip(entries, time_texts, strict=True))
    return mark_safe("\n    ".join(items))  # noqa: S308 (rendered, escaped)


_filters: dict[tuple[Any, ...], str] = {}


def _filters_html(query: InboxQuery) -> str:
    """The search form and the type chips (no personal data), kept per language and query."""
    key = (translation.get_language(), get_script_prefix(), query.topic, query.push_type, query.search)
    html = _filters.get(key)
    if html is None:
        type_chips = [
            {"label": None, "value": "", "url": "?" + query.params(type=""), "current": query.push_type is None},
            *(
                {
                    "label": label,
                    "value": value,
                    "url": "?" + query.params(type=value),
                    "current": query.push_type == value,
                }
                for value, label in PushType.choices
            ),
        ]
        if len(_filters) > 2_000:
            _filters.clear()
        html = _filters[key] = get_template(_FILTERS_TEMPLATE).render(
            {"query": query, "topics": Topic.choices, "type_chips": type_chips}
        )
    return html


def inbox(request: HttpRequest, citizen: Citizen) -> HttpResponse:
    """Called by views.home for a signed-in citizen with current consent."""
    query = _parse_query(request)
    if settings.DEBUG or has_flash_messages(request):  # (templates edited while running; messages)
        return _keep_offline(render(request, _INBOX_TEMPLATE, _slow_context(citizen, query)))
    return _keep_offline(HttpResponse(finish(request, prefilled_page(request, citizen, query))))


def _remembered(citizen: Citizen, query: InboxQuery) -> Any:
    """The citizen's remembered page for `query` (pushes.inbox), as both page builders read it."""
    return remembered_page(
        citizen,
        topic=query.topic,
        push_type=query.push_type,
        search=query.search or None,
        before=query.before,
        limit=PAGE_SIZE,
    )


def prefilled_page(request: Any, citizen: Citizen, query: InboxQuery) -> Prefilled:
    """The inbox page for `query` up to the per-request parts (`shell.finish` adds the CSRF token and
    the full path), for a signed-in citizen with current consent, without flash messages and DEBUG
    off. Also what the WSGI fast path (fastpath.py) serves; `request` is used only when the page's
    shell is rendered for the first time in this process (as its template context's request)."""
    memo = _remembered(citizen, query)
    language = translation.get_language() or ""
    prefix = get_script_prefix()
    now = timezone.now()
    time_texts = _time_texts_of(memo, language, now)
    unread = memo.unread_at(now) if memo is not None else 0
    # The rendered page, up to the CSRF token and the full path, is kept with the remembered page
    # (pushes.inbox.RememberedPage): it is a function of that page, the query (part of the page's
    # key), the language, the script prefix, the time texts and the unread count, which are this key.
    render_key = (language, prefix, time_texts, unread)
    if memo is not None:
        kept = memo.rendered.get(render_key)
        if kept is not None:
            return kept  # type: ignore[no-any-return]
    parts = _page_parts(memo, query, time_texts, language, prefix, unread)
    # The same page from the process's shell of it (shell.py): what is not a slot is in the key.
    has_list, before = bool(parts.inbox_list), query.before is not None
    page = prefill(
        request,
        _INBOX_TEMPLATE,
        (parts.unread, has_list, bool(parts.more_url), parts.filtered, before),
        {
            "inbox_list": slot("inbox_list") if has_list else "",
            "inbox_filters": slot("inbox_filters"),
            "query": {"before": before},
            "filtered": parts.filtered,
            "more_url": slot("more_url") if parts.more_url else "",
            "unread": parts.unread,
            "active_nav": "inbox",
        },
        {"inbox_list": parts.inbox_list, "inbox_filters": _filters_html(query), "more_url": parts.more_url},
        safe_slots=_SAFE_SLOTS,
    )
    if memo is not None:
        memo.rendered.clear()  # one rendering per remembered page: the current time texts'
        memo.rendered[render_key] = page
    return page


def _time_texts_of(memo: RememberedPage | None, language: str, now: datetime.datetime) -> tuple[str, ...]:
    """Each entry's `_time_text`, kept with the remembered page until the first instant one of them
    can change (`_texts_until`)."""
    if memo is None:
        return ()
    kept = memo.texts
    if kept is not None and kept[0] == language and kept[1] <= now < kept[2]:
        return kept[3]  # type: ignore[no-any-return]
    today = timezone.localtime(now, TAIPEI).date()
    texts = tuple(_time_text(e, today, language) for e, _pinned in memo.page)
    memo.texts = (language, now, _texts_until(memo.page, now, today), texts)
    return texts


def _texts_until(page: list[tuple[Entry, bool]], now: datetime.datetime, today: datetime.date) -> datetime.datetime:
    """The first instant after `now` at which a time text of `page` may read differently: the next
    Asia/Taipei midnight (dates are relative to today), and for today's entries the next second,
    minute or hour of `naturaltime` (`_relative_text`: whole seconds under a minute, whole minutes
    under an hour, then whole hours). The texts are computed a moment after `now`, so a change in
    between only makes this instant already past (the texts are computed again)."""
    until = datetime.datetime.combine(today + datetime.timedelta(days=1), datetime.time(0), tzinfo=TAIPEI)
    for e, _pinned in page:
        if e.day != today:
            continue
        if e.frozen_at >= now or (now - e.frozen_at).days:
            return now  # (not a relative text of the past day: not kept)
        seconds = (now - e.frozen_at).seconds
        step = 1 if seconds < 60 else 60 if seconds < 3600 else 3600
        until = min(until, e.frozen_at + datetime.timedelta(seconds=(seconds // step + 1) * step))
    return until


@dataclass(frozen=True)
class _PageParts:
    inbox_list: str
    more_url: str
    unread: int
    filtered: bool


def _page_parts(
    memo: RememberedPage | None,
    query: InboxQuery,
    time_texts: tuple[str, ...],
    language: str,
    prefix: str,
    unread: int,
) -> _PageParts:
    entries = memo.entries() if memo is not None else []
    regular = [e for e in entries if not e.pinned]
    more_url = ""
    if len(regular) >= PAGE_SIZE:
        more_url = "?" + query.params(before=regular[-1].frozen_at.isoformat())
    return _PageParts(
        inbox_list=_list_html(entries, time_texts, language, prefix),
        more_url=more_url,
        unread=unread,
        filtered=bool(query.topic is not None or query.push_type or query.search),
    )


def _slow_context(citizen: Citizen, query: InboxQuery) -> dict[str, Any]:
    """The inbox template's full context (DEBUG, or flash messages to show)."""
    memo = _remembered(citizen, query)
    language = translation.get_language() or ""
    now = timezone.now()
    unread = memo.unread_at(now) if memo is not None else 0
    parts = _page_parts(memo, query, _time_texts_of(memo, language, now), language, get_script_prefix(), unread)
    return {
        "inbox_list": parts.inbox_list,
        "inbox_filters": _filters_html(query),
        "query": query,
        "filtered": parts.filtered,
        "more_url": parts.more_url,
        "unread": parts.unread,
        "active_nav": "inbox",
    }


def _forget_rendered_pages(**kwargs: Any) -> None:
    clear_memos()  # (settings such as MEDIA_URL or APP_NAME are in rendered pages; tests change them)


setting_changed.connect(_forget_rendered_pages, dispatch_uid="civicpush.citizen_web.inbox_views")

_INBOX_TEMPLATE = "citizen_web/inbox.html"
_SAFE_SLOTS = frozenset({"inbox_list", "inbox_filters"})  # rendered (escaped) by their templates


def _push_in_county(citizen: Citizen, push_id: int) -> Push:
    push = (
        Push.objects.select_related("unit")
        .prefetch_related("images")
        .filter(pk=push_id, county_id=citizen.county_id)
        .first()
    )
    if push is None:
        raise Http404
    return push


@citizen_required
@require_GET
def message(request: HttpRequest, push_id: int) -> HttpResponse:
    """A push in full. Opening it records the citizen's read (once); 404 unless it reached them."""
    citizen: Citizen = request.citizen  # type: ignore[attr-defined]
    push = _push_in_county(citizen, push_id)
    try:
        push_services.do_record_read(citizen, push)
    except NotFound:
        raise Http404 from None
    context = {
        "push": push,
        "images": list(push.images.all()),
        "has_link": _safe_link(push.link) is not None,
        "unread": unread_count(citizen),
        "active_nav": "inbox",
    }
    return _keep_offline(render(request, "citizen_web/message.html", context))


def _safe_link(link: str) -> str | None:
    """Only plain web links are followed (no javascript:, data:, intent: …)."""
    if not link:
        return None
    parts = urlsplit(link)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return link


@citizen_required
@require_GET
def message_go(request: HttpRequest, push_id: int) -> HttpResponse:
    """The push's link, through here so the click is counted; 404 unless visible and a web link."""
    citizen: Citizen = request.citizen  # type: ignore[attr-defined]
    push = _push_in_county(citizen, push_id)
    link = _safe_link(push.link)
    if link is None:
        raise Http404
    try:
        push_services.do_record_click(citizen, push)
    except NotFound:
        raise Http404 from None
    return HttpResponseRedirect(link)


@require_GET
def push_image(request: HttpRequest, path: str) -> FileResponse:
    """/media/…: only push images (full size or thumbnail), only to a citizen who can see the push or
    a staff member who can see it in the console. Everything else under /media/ is 404."""
    name = path.lstrip("/")
    image = (
        PushImage.objects.select_related("push")
        .filter(Q(image=name) | Q(thumbnail=name))
        .only("id", "content_type", "image", "thumbnail", "push")
        .first()
    )
    if image is None or not _may_see_image(request, image.push):
        raise Http404
    try:
        handle = default_storage.open(name, "rb")
    except (FileNotFoundError, OSError):
        raise Http404 from None
    content_type = image.content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
    response = FileResponse(handle, content_type=content_type)
    # Images of personal notices are personal data: the browser may keep them, shared caches not.
    response["Cache-Control"] = "private, max-age=86400"
    return response


def _may_see_image(request: HttpRequest, push: Push) -> bool:
    citizen = getattr(request, "citizen", None)
    if citizen and is_visible_to(citizen, push):
        return True
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.is_active:
        try:
            get_push(user, push.pk)
        except NotFound:
            return False
        return True
    return False
