from django.apps import AppConfig


class BttPlatformConfig(AppConfig):
    name = "btt_platform"
    verbose_name = "Platform"

    def ready(self) -> None:
        import sys

        from btt_platform import (
            checks,  # noqa: F401  (registers the system checks)
            heartbeats,
        )

        # The chain watcher (manage.py watch_chain) beats from a timer while it runs.
        heartbeats.start_for_command(sys.argv)
