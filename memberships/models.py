"""Tiers, memberships and their periods.

A membership is paid one period at a time, each by an invoice the fan pays to the creator's own
address (the platform never holds funds, so nothing is charged automatically). A paid period
becomes grants on the access ledger for every content its tier covers, from the period's start
to its end; a grace period is a grant of its own. The ledger needs no special case.
"""

from __future__ import annotations

import calendar
from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q

from btt_platform.records import AppendOnlyModel, AppendOnlyQuerySet
from payments.fields import BaseUnitsField
from payments.models import TOKEN_CHOICES
from payments.money import Amount, Token


class Tier(models.Model):
    """What a creator offers members: a price per month (and per year, optionally), a limit on
    members, and a rank: a tier covers content marked for its rank or any lower one."""

    creator = models.ForeignKey("creators.Creator", on_delete=models.PROTECT, related_name="tiers")
    name = models.CharField(max_length=80)
    description = models.TextField(blank=True)
    token = models.CharField(max_length=8, choices=TOKEN_CHOICES, default=Token.BTT.value)
    monthly_units = BaseUnitsField()
    yearly_units = BaseUnitsField(default=0, help_text="0: monthly only")
    member_limit = models.PositiveIntegerField(null=True, blank=True, help_text="empty: no limit")
    rank = models.PositiveSmallIntegerField(default=1, help_text="higher covers lower")
    # Retired: no new members and no renewals; members keep it to the end of what they paid.
    retired_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["creator", "rank", "pk"]

    def __str__(self) -> str:
        return f"{self.name} ({self.creator_id})"

    def price(self, period: str) -> Amount | None:
        units = self.monthly_units if period == Membership.Period.MONTHLY else self.yearly_units
        return None if not units else Amount(units, Token(self.token))

    @property
    def price_monthly(self) -> Amount | None:
        return self.price(Membership.Period.MONTHLY)

    @property
    def price_yearly(self) -> Amount | None:
        return self.price(Membership.Period.YEARLY)

    def covers(self, other: Tier) -> bool:
        return self.creator_id == other.creator_id and self.rank >= other.rank


class MemberContent(models.Model):
    """A content for members of ``tier`` or a higher tier of its creator."""

    content = models.OneToOneField(
        "swarm.Content", on_delete=models.CASCADE, related_name="member_tier"
    )
    tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="member_contents")

    def __str__(self) -> str:
        return f"content {self.content_id} for tier {self.tier_id}"


class Membership(models.Model):
    class Period(models.TextChoices):
        MONTHLY = "monthly"
        YEARLY = "yearly"

    class State(models.TextChoices):
        PENDING = "pending", "Waiting for the first payment"
        ACTIVE = "active", "Active"
        GRACE = "grace", "Renewal unpaid: access kept for the grace period"
        LAPSED = "lapsed", "Lapsed: renewal not paid"
        CANCELLED = "cancelled", "Cancelled: runs to the end of the paid period"
        ENDED = "ended", "Ended"

    fan = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="memberships"
    )
    tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="memberships")
    # An upgrade or downgrade: the tier of the next period's invoice.
    next_tier = models.ForeignKey(
        Tier, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    period = models.CharField(max_length=8, choices=Period.choices, default=Period.MONTHLY)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    paid_until = models.DateTimeField(null=True, blank=True)
    # The paid_until a renewal invoice was issued for (one renewal per period).
    renewal_issued_for = models.DateTimeField(null=True, blank=True)
    # Privacy: listed by name in the creator's members CSV, or counted only.
    listed = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["fan", "tier"], name="membership_once_per_tier")
        ]

    def __str__(self) -> str:
        return f"{self.fan_id} in tier {self.tier_id} ({self.state})"


class MembershipPeriod(models.Model):
    """One period of a membership: a paid period (its invoice; dates set when paid) or a grace
    period (granted when the renewal is issued, taken back if the fan cancels, begun or not)."""

    class Kind(models.TextChoices):
        PAID = "paid"
        GRACE = "grace"

    membership = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="periods")
    tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=6, choices=Kind.choices, default=Kind.PAID)
    invoice = models.OneToOneField(
        "payments.Invoice",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="membership_period",
    )
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    # A payment that left the chain, or a grace taken back: its grants are revoked.
    voided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="grace", invoice__isnull=True)
                | Q(kind="paid", invoice__isnull=False),
                name="membership_period_invoice_iff_paid",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} period {self.pk} of membership {self.membership_id}"

    @property
    def source_ref(self) -> str:
        """The grants' ``source_ref`` on the ledger (source ``membership``)."""
        return f"membership-period:{self.pk}"

    @property
    def standing(self) -> bool:
        """Gives access over its dates: paid (or grace) and not voided."""
        has_dates = self.starts_at is not None and self.ends_at is not None
        return has_dates and self.voided_at is None and (self.kind == "grace" or bool(self.paid_at))


class MembershipEvent(AppendOnlyModel):
    """What happened to a membership, once each: a started, renewed, renewal_due, grace, lapsed,
    cancelled, ended (``key`` makes a repeat a no-op, so a webhook is queued once)."""

    membership = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=16)
    key = models.CharField(max_length=64)
    detail = models.JSONField(default=dict)
    created_at = models.DateTimeField()

    objects = AppendOnlyQuerySet["MembershipEvent"].as_manager()

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["membership", "kind", "key"], name="membership_event_once"
            )
        ]

    def __str__(self) -> str:
        return f"membership {self.membership_id}: {self.kind}"


def add_months(moment: datetime, months: int) -> datetime:
    """``moment`` ``months`` calendar months later, clamped to the month's last day (Jan 31 + 1
    month is Feb 28/29), as billing by the month does."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def period_end(start: datetime, period: str) -> datetime:
    return add_months(start, 12 if period == Membership.Period.YEARLY else 1)


# Posts live in their own module; imported here so that Django registers their models.
from memberships.post_models import Post, PostMailOptOut  # noqa: E402, F401
