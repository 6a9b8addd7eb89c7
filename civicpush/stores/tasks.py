"""Store jobs: the citizen's payment receipt (personal queue, so it never waits behind a broadcast)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="civicpush.personal.store_payment_receipt", acks_late=True, max_retries=0)
def send_payment_receipt(payment_id: int, refund: bool = False) -> None:
    """Send (once: the notice's reference is idempotent) the receipt of a payment or its refund."""
    from .models import Payment
    from .payments import send_receipt

    payment = Payment.objects.select_related("store", "citizen").filter(pk=payment_id).first()
    if payment is not None:
        send_receipt(payment, payment.store, refund=refund)
