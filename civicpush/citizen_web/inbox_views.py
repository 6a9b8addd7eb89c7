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

from django.core.files.storage import default_storage
from django.db.models import Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from civicpush.citizens.models import Citizen
from civicpush.citizens.topics import Topic
from civicpush.core.errors import NotFound
from civicpush.pushes import services as push_services
from civicpush.pushes.inbox import InboxEntry, inbox_for, is_visible_to, unread_count
from civicpush.pushes.models import Push, PushImage, PushType
from civicpush.pushes.selectors import get_push

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


def _parse_query(request: HttpRequest) -> InboxQuery:
    """Unknown or malformed values are ignored (the unfiltered inbox), never an error page."""
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


@dataclass(frozen=True)
class InboxItem:
    entry: InboxEntry
    first_line: str
    thumbnail: PushImage | None

    @property
    def push(self) -> Push:
        return self.entry.push


def _first_line(body: str) -> str:
    for line in body.splitlines():
        if line.strip():
            return line.strip()
    return ""


def _items(entries: list[InboxEntry]) -> list[InboxItem]:
    items = []
    for entry in entries:
        images = list(entry.push.images.all())  # prefetched by inbox_for
        items.append(
            InboxItem(entry=entry, first_line=_first_line(entry.push.body), thumbnail=images[0] if images else None)
        )
    return items


def inbox(request: HttpRequest, citizen: Citizen) -> HttpResponse:
    """Called by views.home for a signed-in citizen with current consent."""
    query = _parse_query(request)
    entries = inbox_for(
        citizen,
        topic=query.topic,
        push_type=query.push_type,
        search=query.search or None,
        before=query.before,
        limit=PAGE_SIZE,
    )
    regular = [e for e in entries if not e.pinned]
    more_url = ""
    if len(regular) >= PAGE_SIZE:
        more_url = "?" + query.params(before=regular[-1].frozen_at.isoformat())
    type_chips = [
        {"label": None, "value": "", "url": "?" + query.params(type=""), "current": query.push_type is None},
        *(
            {"label": label, "value": value, "url": "?" + query.params(type=value), "current": query.push_type == value}
            for value, label in PushType.choices
        ),
    ]
    context = {
        "inbox_items": _items(entries),
        "query": query,
        "filtered": bool(query.topic is not None or query.push_type or query.search),
        "topics": Topic.choices,
        "type_chips": type_chips,
        "more_url": more_url,
        "unread": unread_count(citizen),
        "today": timezone.localdate(),
        "active_nav": "inbox",
    }
    return _keep_offline(render(request, "citizen_web/inbox.html", context))


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
