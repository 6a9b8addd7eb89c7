from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DeliveryConfig(AppConfig):
    """Devices and channels (Web Push, FCM, APNs, SMS, e-mail) and the fan-out of frozen dispatches."""

    name = "civicpush.delivery"
    label = "delivery"
    verbose_name = _("Delivery")

    def ready(self) -> None:
        from celery.signals import worker_init, worker_process_init, worker_ready

        from civicpush.pushes.dispatching import dispatch_frozen

        from . import segments  # noqa: F401 - "has_app" = has an active device; devices in the personal-data registry

        dispatch_frozen.connect(_on_dispatch_frozen, dispatch_uid="delivery.fanout")
        worker_process_init.connect(_after_fork, dispatch_uid="delivery.after_fork", weak=False)
        worker_init.connect(_warm_up, dispatch_uid="delivery.warm_up", weak=False)
        worker_ready.connect(_resume_on_start, dispatch_uid="delivery.resume_on_start", weak=False)


def _on_dispatch_frozen(sender, dispatch_id: int, push_id: int, **kwargs) -> None:  # type: ignore[no-untyped-def]
    """Start the fan-out (on commit of the freeze): the personal queue for person-targeted pushes."""
    from civicpush.pushes.models import Push, TargetKind

    from .tasks import start_fanout

    target_kind = Push.objects.filter(pk=push_id).values_list("target_kind", flat=True).first()
    start_fanout(dispatch_id, personal=target_kind == TargetKind.PERSON)


def _after_fork(**kwargs) -> None:  # type: ignore[no-untyped-def]
    from .fanout import reset_after_fork

    reset_after_fork()
    _warm_up()


def _warm_up(**kwargs) -> None:  # type: ignore[no-untyped-def]
    """Load the URLconf (the nudge's inbox link) before the first batch, not during it."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018


def _resume_on_start(**kwargs) -> None:  # type: ignore[no-untyped-def]
    """A restarted worker picks up the batches its predecessor left leased."""
    from .tasks import resume_fanouts

    resume_fanouts.delay()
