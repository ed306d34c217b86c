"""Periods paid before posts existed grant their tier's standing too (``tier:<id>`` on the
ledger), over their own dates, so members read posts from the day they appear."""

from django.db import migrations
from django.db.models import Q
from django.utils import timezone


def grant_standings(apps, schema_editor):  # type: ignore[no-untyped-def]
    Period = apps.get_model("memberships", "MembershipPeriod")
    Grant = apps.get_model("ledger", "Grant")
    standing = Period.objects.filter(
        starts_at__isnull=False, ends_at__gt=timezone.now(), voided_at__isnull=True
    ).filter(Q(kind="grace") | Q(paid_at__isnull=False))
    for period in standing.select_related("membership"):
        ref = f"membership-period:{period.pk}"
        scope = f"tier:{period.tier_id}"
        held = Grant.objects.filter(
            source="membership", source_ref=ref, scope=scope, revoked_at__isnull=True
        )
        if not held.exists():
            Grant.objects.create(
                user_id=period.membership.fan_id, scope=scope, source="membership",
                source_ref=ref, starts_at=period.starts_at, until=period.ends_at,
            )  # fmt: skip


class Migration(migrations.Migration):
    dependencies = [
        ("memberships", "0002_posts"),
        ("ledger", "0003_grant_scopes"),
    ]

    operations = [migrations.RunPython(grant_standings, migrations.RunPython.noop)]
