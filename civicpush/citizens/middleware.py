"""Attach the signed-in citizen (if any) to the request as `request.citizen`.

The session carries a small snapshot of the citizen (SNAPSHOT_SESSION_KEY: pk, county, sign-up time,
status, the privacy-notice version whose acceptance was last seen, when it was checked), written at
sign-in (`store_snapshot`). A read (GET/HEAD) within SNAPSHOT_MAX_AGE seconds of the last check is
served from it: `request.citizen` is then a Citizen whose other fields are deferred (the first access
to one loads it, as for any deferred field), and `has_current_consent(request)` needs no query.

The snapshot is checked against the database again (one query: the active citizen and whether they
accepted the current notice)
- when it is older than SNAPSHOT_MAX_AGE (then rewritten), when missing (sessions from before it), and
- on every unsafe request (POST …): writes never rely on it;
- when it names an older notice version than the current one (before sending anyone to /consent/).
Sign-out and account deletion flush the session; recording a consent refreshes the snapshot
(`store_snapshot`). A change made elsewhere — the account deleted from another device — reaches this
session's reads within SNAPSHOT_MAX_AGE, its writes at once.
"""

from __future__ import annotations

import datetime
import functools
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import router
from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject

CITIZEN_SESSION_KEY = "citizen_id"
SNAPSHOT_SESSION_KEY = "citizen_snapshot"
SNAPSHOT_MAX_AGE = 60  # seconds a read may rely on the session's snapshot without a query
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_FIELDS = ("id", "county_id", "created_at", "status")


def session_snapshot(citizen: Any, consent_version: str, now: float | None = None) -> dict[str, Any]:
    """The snapshot of `citizen` as the session keeps it; `consent_version`: the current notice
    version when the citizen accepted it, else ""."""
    now = time.time() if now is None else now
    return {
        "id": citizen.pk,
        "county_id": citizen.county_id,
        "created_at": citizen.created_at.isoformat(),
        "status": citizen.status,
        "consent": consent_version,
        "checked": int(now),
    }


def store_snapshot(request: HttpRequest, citizen: Any, *, consent_version: str | None = None) -> None:
    """Write the session's snapshot of `citizen` (at sign-in, after a consent). Without
    `consent_version`, whether the citizen accepted the current notice is read from the database."""
    if consent_version is None:
        from .selectors import has_current_consent

        consent_version = settings.PRIVACY_NOTICE_VERSION if has_current_consent(citizen) else ""
    snap = session_snapshot(citizen, consent_version)
    request.session[CITIZEN_SESSION_KEY] = citizen.pk
    request.session[SNAPSHOT_SESSION_KEY] = snap
    _attach(request, snap, checked=True)


def forget(request: HttpRequest) -> None:
    """After the session was flushed (sign-out, deletion): nobody is signed in on this request."""
    _attach(request, None, checked=True)


def _attach(request: HttpRequest, snap: dict[str, Any] | None, *, checked: bool) -> None:
    request._citizen_snapshot = snap  # type: ignore[attr-defined]
    request._citizen_checked = checked  # type: ignore[attr-defined]
    request.citizen = SimpleLazyObject(lambda: _citizen_of(request))  # type: ignore[attr-defined]


def _from_snapshot(snap: dict[str, Any]) -> Any:
    from .models import Citizen

    values = {**snap, "created_at": datetime.datetime.fromisoformat(snap["created_at"])}
    names = _field_order(Citizen)
    # (from_db takes the values in the model's field order)
    return Citizen.from_db(router.db_for_read(Citizen), names, [values[name] for name in names])


@functools.cache
def _field_order(model: Any) -> tuple[str, ...]:
    return tuple(f.attname for f in model._meta.concrete_fields if f.attname in _FIELDS)


def _check(request: HttpRequest, citizen_id: Any) -> dict[str, Any] | None:
    """The database's view of the session's citizen (one query). Rewrites the snapshot when it
    changed or is due; forgets the citizen when they are no longer active."""
    from django.db.models import Exists, OuterRef

    from .models import Citizen, CitizenStatus, ConsentRecord

    current = ConsentRecord.objects.filter(
        citizen=OuterRef("pk"), notice_version=settings.PRIVACY_NOTICE_VERSION, withdrawn_at__isnull=True
    )
    citizen = (
        Citizen.objects.filter(pk=citizen_id, status=CitizenStatus.ACTIVE)
        .only(*_FIELDS)
        .annotate(has_consent=Exists(current))
        .first()
    )
    session = request.session
    if citizen is None:
        session.pop(SNAPSHOT_SESSION_KEY, None)
        session.pop(CITIZEN_SESSION_KEY, None)
        return None
    now = time.time()
    snap = session_snapshot(citizen, settings.PRIVACY_NOTICE_VERSION if citizen.has_consent else "", now)
    old = session.get(SNAPSHOT_SESSION_KEY)
    if old is not None and old == {**snap, "checked": old.get("checked")} and now - old["checked"] < SNAPSHOT_MAX_AGE:
        return old  # the same and not due: no session write
    session[SNAPSHOT_SESSION_KEY] = snap
    return snap


_UNSET: Any = object()


def _current_snapshot(request: HttpRequest) -> dict[str, Any] | None:
    """The snapshot this request may rely on (None: nobody signed in); at most one query a request."""
    snap = getattr(request, "_citizen_snapshot", _UNSET)
    if snap is not _UNSET:
        return snap  # type: ignore[no-any-return]
    citizen_id = request.session.get(CITIZEN_SESSION_KEY)
    checked = False
    if not citizen_id:
        snap = None
    else:
        snap = request.session.get(SNAPSHOT_SESSION_KEY)
        if (
            snap is None
            or snap.get("id") != citizen_id
            or request.method not in _SAFE_METHODS
            or time.time() - snap.get("checked", 0) >= SNAPSHOT_MAX_AGE
        ):
            snap, checked = _check(request, citizen_id), True
    request._citizen_snapshot = snap  # type: ignore[attr-defined]
    request._citizen_checked = checked  # type: ignore[attr-defined]
    return snap


def _citizen_of(request: HttpRequest) -> Any:
    snap = _current_snapshot(request)
    return _from_snapshot(snap) if snap is not None else None


def has_current_consent(request: HttpRequest) -> bool:
    """Whether the signed-in citizen accepted the current privacy notice: no query while the snapshot
    says so; checked against the database (once a request) before answering no."""
    snap = _current_snapshot(request)
    if snap is None:
        return False
    if snap["consent"] == settings.PRIVACY_NOTICE_VERSION:
        return True
    if getattr(request, "_citizen_checked", False):
        return False
    snap = _check(request, snap["id"])
    _attach(request, snap, checked=True)
    return snap is not None and snap["consent"] == settings.PRIVACY_NOTICE_VERSION


class CitizenMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.citizen = SimpleLazyObject(lambda: _citizen_of(request))  # type: ignore[attr-defined]
        return self.get_response(request)
