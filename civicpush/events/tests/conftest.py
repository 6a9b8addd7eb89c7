from __future__ import annotations

from collections.abc import Callable
from typing import Any

from civicpush.pushes.models import Push
from civicpush.pushes.tests.conftest import approve_all  # noqa: F401  (the push fixtures events build on)


def approve_all_for(org: Any) -> Callable[[Push], Push]:
    """The `approve_all` fixture's function, for tests that cannot take the fixture."""
    from civicpush.pushes import services
    from civicpush.pushes.chains import next_step

    by_role = {
        "push_liaison": org.user("fire.liaison"),
        "secretary": org.user("fire.secretary"),
        "deputy_director": org.user("fire.deputy"),
        "director": org.user("fire.director"),
    }

    def approve(push: Push) -> Push:
        push.refresh_from_db()
        while (step := next_step(push)) is not None:
            role = push.chain_roles[step]
            user = by_role.get(role) or org.user(f"{push.unit.code}.head")
            services.do_decide(user, push, "approved")
            push.refresh_from_db()
        return push

    return approve
