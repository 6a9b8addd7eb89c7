"""Citizen wallet URLs (錢包)."""

from django.urls import path

from . import wallet_views

urlpatterns = [
    path("wallet/", wallet_views.wallet_home, name="wallet"),
    path("wallet/pin/", wallet_views.wallet_pin, name="wallet_pin"),
    path("wallet/transfer/", wallet_views.wallet_transfer, name="wallet_transfer"),
    path("wallet/pay/", wallet_views.wallet_pay, name="wallet_pay"),
    path("wallet/pay/code/", wallet_views.wallet_pay_code, name="wallet_pay_code"),
    path("wallet/envelopes/<int:envelope_id>/claim/", wallet_views.wallet_claim_envelope, name="wallet_claim"),
    path("wallet/referral/", wallet_views.wallet_referral, name="wallet_referral"),
]
