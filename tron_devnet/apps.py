from django.apps import AppConfig


class TronDevnetConfig(AppConfig):
    """Registered for its management command only: no models, URLs or system checks."""

    name = "tron_devnet"
    verbose_name = "TRON devnet"
