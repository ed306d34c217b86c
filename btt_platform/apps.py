from django.apps import AppConfig


class BttPlatformConfig(AppConfig):
    name = "btt_platform"
    verbose_name = "Platform"

    def ready(self) -> None:
        from btt_platform import checks  # noqa: F401  (registers the system checks)
