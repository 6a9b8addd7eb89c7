"""`manage.py demo_logins`: who to sign in as in the demo, with which password, and where."""

from __future__ import annotations

import os
import unicodedata
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from civicpush.citizens.models import Citizen
from civicpush.demo.citizens import demo_phones
from civicpush.demo.organisation import demo_password
from civicpush.demo.pushes import AGENCY_APPROVERS, APPROVER_LOGIN
from civicpush.org.models import RoleAssignment, Unit


def _width(text: str) -> int:
    """Terminal columns: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - _width(text))


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(_width(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join("-" * w for w in widths)
    return [
        "  ".join(_pad(c, w) for c, w in zip(header, widths, strict=True)).rstrip(),
        line,
        *("  ".join(_pad(c, w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows),
    ]


def _local_mobile(e164: str) -> str:
    local = "0" + e164.removeprefix("+886")
    return f"{local[:4]}-{local[4:7]}-{local[7:]}"


class Command(BaseCommand):
    help = "Print the demo staff sign-ins, the demo password and the URLs to open."

    def handle(self, *args: Any, **options: Any) -> None:
        base = f"http://127.0.0.1:{os.environ.get('PORT', '8000')}"
        assignments = (
            RoleAssignment.objects.select_related("user", "unit", "agency", "county")
            .filter(user__is_active=True)
            .order_by("unit__path", "agency_id", "user__username")
        )
        # County and agency roles first, then units in tree order.
        ordered = sorted(
            assignments, key=lambda a: (a.unit_id is not None, a.agency_id is not None, a.unit.path if a.unit else "")
        )
        rows = []
        for a in ordered:
            scope = a.unit.name if a.unit else a.agency.name if a.agency else a.county.name
            indent = "  " * (a.unit.depth if isinstance(a.unit, Unit) else 0)
            rows.append([a.user.username, a.user.display_name, str(a.get_role_display()), indent + scope])
        out = ["", "CivicPush demo", "=============="]
        if rows:
            out += ["", "Staff sign-ins (all with the same demo password):", ""]
            out += ["  " + line for line in _table(["username", "display name", "role", "scope"], rows)]
            out += ["", f"Demo password: {demo_password()}"]
            out += [
                "",
                f"Sign-off queue (推播審核): sign in as {APPROVER_LOGIN} (unit head of 預防科) and open "
                f"{base}/console/ — a push to everyone waits for the unit head's signature; the later steps "
                f"are signed by {', '.join(AGENCY_APPROVERS.values())}. Drafters (e.g. prevention.drafter) "
                "never sign their own pushes.",
            ]
        else:
            out += ["", "No staff yet: run `manage.py load_demo` first."]
        out += [
            "",
            f"Staff console:    {base}/console/",
            f"Partner stores:   {base}/store/  (store staff: store.demo; settlement approval: county.accounting)",
            f"Offers map:       {base}/stores/",
            f"Citizen app:      {base}/",
            f"API docs:         {base}/api/v1/docs",
        ]
        citizen_phone = next(
            (p for p in demo_phones(20) if Citizen.objects.filter(phone_e164=p).exists()),
            None,
        )
        if citizen_phone:
            otp_page = (
                f"{base}/dev/otp/"
                if settings.DEMO_MODE
                else "(demo mode is off: CIVICPUSH_DEMO_MODE=1 shows codes on /dev/otp/)"
            )
            out += [
                "",
                "Citizen sign-in: open the citizen app, enter a demo mobile number such as "
                f"{_local_mobile(citizen_phone)}, then read the one-time code on {otp_page}",
            ]
        else:
            out += ["", "No demo citizens yet: run `manage.py load_demo`."]
        self.stdout.write("\n".join(out) + "\n")
