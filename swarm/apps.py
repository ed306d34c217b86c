from django.apps import AppConfig


class SwarmConfig(AppConfig):
    name = "swarm"
    verbose_name = "Swarm"

    def ready(self) -> None:
        from ledger.services import on_revoke
        from swarm import checks  # noqa: F401  (registers the system checks)
        from swarm.services import access_revoked

        # A revoked grant reaches the engine's peer admission within seconds.
        on_revoke(access_revoked)
