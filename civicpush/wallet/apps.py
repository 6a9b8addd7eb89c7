from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WalletConfig(AppConfig):
    """Coins as citizens and units meet them: budgets workflow, wallet, PIN, pay codes, earning."""

    name = "civicpush.wallet"
    label = "wallet"
    verbose_name = _("Wallet and coin budgets")

    def ready(self) -> None:
        from . import signals  # noqa: F401  (connects the sign-up and profile bonuses)
