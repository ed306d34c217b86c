from django.apps import AppConfig


class SwarmConfig(AppConfig):
    name = "swarm"
    verbose_name = "Swarm"

    def ready(self) -> None:
        from swarm import checks  # noqa: F401  (registers the system checks)
