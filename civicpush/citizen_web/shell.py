"""Pages rendered once per process and variant, with the per-request parts put in at slots.

A page such as the inbox is its template (citizen_web/base.html, base.html, the page) rendered with
slot markers in place of what changes from request to request — the CSRF token, the path the
language switch returns to, already-rendered fragments (the list) — and with everything that
changes the page's structure (language, unread count, empty states …) in the cache key. Serving it
is then one join: no template rendering, no context processors. The template stays the single
source of the HTML; `render_shell` renders exactly what `render()` would (tests compare the two).

Slot values are escaped here exactly as the template would (`escape`), except `safe_slots`: HTML
that was rendered (and escaped) by a template already. Pages with flash messages are rendered the
ordinary way (`has_flash_messages`): the messages are consumed by rendering them.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.contrib.messages import get_messages
from django.core.signals import setting_changed
from django.http import HttpRequest
from django.middleware.csrf import CSRF_ALLOWED_CHARS, CSRF_SECRET_LENGTH, get_token
from django.template.loader import get_template
from django.urls import get_script_prefix
from django.utils import translation
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

_MARK = "\x1ecivicpush-slot:{}\x1e"  # survives escaping; never in rendered text
_MARK_RE = re.compile("\x1ecivicpush-slot:([a-z_]+)\x1e")
_MAX_SHELLS = 2_000
_shells: dict[tuple[Any, ...], tuple[list[str], tuple[tuple[int, str], ...]]] = {}


def slot(name: str) -> SafeString:
    """The marker of a slot, for the shell's template context."""
    return mark_safe(_MARK.format(name))  # noqa: S308 (a constant marker)


class _ShellRequest:
    """`request` as the citizen templates see it while a shell is rendered: a signed-in citizen,
    the full path a slot."""

    citizen = True

    def get_full_path(self) -> str:
        return _MARK.format("full_path")


def has_flash_messages(request: HttpRequest) -> bool:
    """Whether a flash message waits (looking does not consume it)."""
    return bool(getattr(request, "_messages", None) and get_messages(request))


def render_shell(
    request: HttpRequest,
    template: str,
    key: tuple[Any, ...],
    context: Mapping[str, Any],
    values: Mapping[str, str],
    safe_slots: frozenset[str] = frozenset(),
) -> str:
    """The page `template` renders for a signed-in citizen with `context` (its slot markers replaced
    by `values`; the CSRF token and the full path are added here). `key` names everything in
    `context` that is not a slot; the language and script prefix are added to it."""
    return finish(request, prefill(request, template, key, context, values, safe_slots)).decode()


# A page with its value slots filled: UTF-8 parts, and the per-request slots between them.
Prefilled = tuple[tuple[bytes, ...], tuple[str, ...]]
_PER_REQUEST = frozenset({"csrf_token", "full_path"})


def prefill(
    request: HttpRequest,
    template: str,
    key: tuple[Any, ...],
    context: Mapping[str, Any],
    values: Mapping[str, str],
    safe_slots: frozenset[str] = frozenset(),
) -> Prefilled:
    """`render_shell` up to what differs from request to request (the CSRF token and the full path):
    a caller may keep this and `finish` it for each request showing the same page."""
    full_key = (template, translation.get_language(), get_script_prefix(), settings.APP_NAME, settings.DEMO_MODE, key)
    shell = _shells.get(full_key)
    if shell is None:
        shell = _build(request, template, context)
        if len(_shells) >= _MAX_SHELLS:
            _shells.clear()
        _shells[full_key] = shell
    parts, slots = shell
    out: list[bytes] = []
    names: list[str] = []
    pending = [parts[0]]
    for index, name in slots:  # parts: [text, slot, text, slot, …, text]
        if name in _PER_REQUEST:
            out.append("".join(pending).encode())
            names.append(name)
            pending = []
        elif name in safe_slots:
            pending.append(values[name])
        else:
            pending.append(escape(values[name]))
        pending.append(parts[index + 1])
    out.append("".join(pending).encode())
    return tuple(out), tuple(names)


def finish(request: HttpRequest, page: Prefilled) -> bytes:
    """The page's bytes for this request: its CSRF token (one for every form, as {% csrf_token %},
    masked afresh) and full path put in."""
    parts, names = page
    out = [parts[0]]
    token = None
    for i, name in enumerate(names, start=1):
        if name == "csrf_token":
            token = token or masked_csrf_token(request).encode()
            out.append(token)
        else:
            out.append(escape(request.get_full_path()).encode())
        out.append(parts[i])
    return b"".join(out)


_N = len(CSRF_ALLOWED_CHARS)
_INDEX = {c: i for i, c in enumerate(CSRF_ALLOWED_CHARS)}
# (secret char, mask char) -> cipher char: Django's `_mask_cipher_secret`, position by position.
_CIPHER = {
    (s, m): CSRF_ALLOWED_CHARS[(_INDEX[s] + _INDEX[m]) % _N] for s in CSRF_ALLOWED_CHARS for m in CSRF_ALLOWED_CHARS
}
_UNIFORM = 256 - 256 % _N  # random bytes below this map uniformly onto the alphabet (byte % _N)
_TO_CHAR = bytes(ord(CSRF_ALLOWED_CHARS[b % _N]) if b < _UNIFORM else 0 for b in range(256))
_ABOVE = bytes(range(_UNIFORM, 256))


def masked_csrf_token(request: HttpRequest) -> str:
    """`django.middleware.csrf.get_token`, with the same side effects (the CSRF cookie is sent and
    renewed) and the same token format (a fresh random mask, then the secret masked with it: BREACH
    protection), made with a few C-level operations instead of 64 `secrets.choice` calls and a
    generator per character. Any secret it does not recognise goes to Django's own."""
    secret = request.META.get("CSRF_COOKIE")
    if not isinstance(secret, str) or len(secret) != CSRF_SECRET_LENGTH or not set(secret) <= _INDEX.keys():
        return str(get_token(request))
    request.META["CSRF_COOKIE_NEEDS_UPDATE"] = True
    mask = ""
    while len(mask) < CSRF_SECRET_LENGTH:
        mask += secrets.token_bytes(CSRF_SECRET_LENGTH + 16).translate(_TO_CHAR, _ABOVE).decode("ascii")
    mask = mask[:CSRF_SECRET_LENGTH]
    return mask + "".join(map(_CIPHER.__getitem__, zip(secret, mask, strict=True)))


def _build(
    request: HttpRequest, template: str, context: Mapping[str, Any]
) -> tuple[list[str], tuple[tuple[int, str], ...]]:
    html = get_template(template).render(
        {
            **context,
            "request": _ShellRequest(),
            "csrf_token": slot("csrf_token"),
            "messages": (),
        },
        request,
    )
    parts = _MARK_RE.split(html)  # [text, name, text, name, …, text]
    slots = tuple((i, parts[i]) for i in range(1, len(parts), 2))
    return parts, slots


def clear() -> None:
    _shells.clear()


def _on_setting_changed(**kwargs: Any) -> None:
    clear()


setting_changed.connect(_on_setting_changed, dispatch_uid="civicpush.citizen_web.shell")
