"""`manage.py load_demo [--if-empty] [--reset]`: the demo organisation, Taitung's townships and
villages, 2,000 deterministic demo citizens, the default approval chains, and demo groups and pushes."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db.models import Count

from civicpush.citizens.models import Citizen, CitizenProfile, Residency, Township, Village
from civicpush.demo.citizens import (
    DEMO_CITIZENS,
    DEMO_SEED,
    demo_citizens_exist,
    load_demo_citizens,
    remove_citizens,
)
from civicpush.demo.organisation import create_fire_bureau
from civicpush.demo.pushes import (
    DemoPushSummary,
    demo_pushes_exist,
    load_demo_pushes,
    remove_demo_pushes,
    status_line,
)
from civicpush.org.models import RoleAssignment, Unit


class Command(BaseCommand):
    help = "Load the demo organisation, reference data, 2,000 demo citizens, groups and pushes (deterministic)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--if-empty", action="store_true", help="Do nothing when demo citizens already exist.")
        parser.add_argument(
            "--reset",
            action="store_true",
            help="Remove all citizens (with profiles and consents), groups and pushes, and load again.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from civicpush.citizens.reference import ensure_reference_data

        started = time.monotonic()
        demo = None
        if options["if_empty"] and not options["reset"] and demo_citizens_exist():
            demo = create_fire_bureau()
            if demo_pushes_exist(demo.county):
                from civicpush.stores.demo import load_demo_stores

                load_demo_stores(demo)  # idempotent: adds the demo stores to older demo data
                self.stdout.write("Demo data already loaded; nothing to do (use --reset to reload).")
                return
        demo = demo or create_fire_bureau()
        ensure_reference_data(demo.county)
        removed = 0
        if options["reset"]:
            from civicpush.demo.reset import wipe_demo_coins

            wipe_demo_coins()
            remove_demo_pushes(demo.county)
            removed = remove_citizens(demo.county)
        created = 0
        if demo_citizens_exist():
            self.stdout.write("Demo citizens already exist; organisation and reference data checked.")
        else:
            created = load_demo_citizens(demo.county, DEMO_CITIZENS, DEMO_SEED)
        pushes = None if demo_pushes_exist(demo.county) else load_demo_pushes(demo)
        self._load_the_rest(demo)
        self._summary(demo.county, created, removed, pushes, time.monotonic() - started)

    def _load_the_rest(self, demo: Any) -> None:
        """Every later domain's demo data; each loader is idempotent (does nothing when present)."""
        from civicpush.adoption.demo import load_demo_adoption
        from civicpush.cases.demo import load_demo_cases
        from civicpush.events.demo import demo_events_exist, load_demo_events
        from civicpush.feedback.demo import load_demo_feedback
        from civicpush.parking.demo import load_demo_parking
        from civicpush.stores.demo import load_demo_stores
        from civicpush.surveys.demo import demo_surveys_exist, load_demo_surveys

        load_demo_cases(demo)
        load_demo_feedback(demo)
        load_demo_adoption(demo)
        demo_stores = load_demo_stores(demo)
        self.stdout.write(
            f"  stores:       {demo_stores.stores} partner stores; {demo_stores.funded_citizens} demo citizens got coins"
        )
        if not demo_surveys_exist(demo.county):
            self.stdout.write(f"  surveys:      {load_demo_surveys(demo)}")
        if not demo_events_exist(demo.county):
            self.stdout.write(f"  events:       1 event, {load_demo_events(demo)} registrations")
        self.stdout.write(f"  parking:      {load_demo_parking(demo.county)}")

    def _summary(self, county: Any, created: int, removed: int, pushes: DemoPushSummary | None, seconds: float) -> None:
        units = Unit.objects.filter(county=county)
        residency = dict(
            CitizenProfile.objects.filter(citizen__county=county)
            .values("residency")
            .annotate(n=Count("pk"))
            .values_list("residency", "n")
        )
        lines = [
            f"Demo data loaded in {seconds:.1f} s" + (f" (removed {removed:,} citizens first)" if removed else ""),
            f"  organisation: {units.filter(parent__isnull=True).count()} units + "
            f"{units.filter(parent__isnull=False).count()} squads, "
            f"{RoleAssignment.objects.filter(county=county).values('user').distinct().count()} staff",
            f"  reference:    {Township.objects.filter(county=county).count()} townships, "
            f"{Village.objects.filter(township__county=county).count()} villages",
            f"  citizens:     {created:,} created ({residency.get(Residency.RESIDENT, 0):,} residents, "
            f"{residency.get(Residency.DIGITAL, 0):,} digital); "
            f"{Citizen.objects.filter(county=county).count():,} in the county",
            "  pushes:       " + (status_line(pushes) if pushes else "already there (use --reset to reload)"),
        ]
        self.stdout.write("\n".join(lines))
