from django.apps import AppConfig


class LedgerConfig(AppConfig):
    """What is sold and who may have it: grants of access, and the one access decision."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "ledger"
