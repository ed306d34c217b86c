from django.apps import AppConfig


class MembershipsConfig(AppConfig):
    name = "memberships"
    verbose_name = "Memberships: tiers paid by the month or the year"

    def ready(self) -> None:
        from memberships.services import membership_outcome
        from payments import outcomes
        from payments.models import Invoice

        outcomes.listen(Invoice.Kind.MEMBERSHIP, membership_outcome)
