from django.apps import AppConfig


class SwarmConfig(AppConfig):
    name = "swarm"
    verbose_name = "Swarm"

    def ready(self) -> None:
        from django.conf import settings
        from django.db.models.signals import post_save

        from btt_platform import health
        from ledger.services import on_change, on_revoke
        from swarm import checks  # noqa: F401  (registers the system checks)
        from swarm.services import access_revoked, account_saved, live_engines
        from swarm.tracker.entitlements import forget_decision

        # A revoked grant reaches the engine's peer admission within seconds.
        on_revoke(access_revoked)
        # The tracker's decisions kept in Redis are taken again after any grant change.
        on_change(forget_decision)
        # A deactivated account's kept tracker entries go at once.
        post_save.connect(account_saved, sender=settings.AUTH_USER_MODEL, dispatch_uid="swarm")
        # /healthz/deep lists the engines that beat lately.
        health.list_engines_with(live_engines)
