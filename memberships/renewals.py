"""Renewal without custody, run every minute by beat (``memberships.renew_memberships``).

The platform charges nobody: before a period ends it issues the next period's invoice (open to
the end of the grace period), tells the fan by email and the creator by ``membership.
renewal_due``, and grants the grace period so access never stops while the fan pays. Access
itself ends by the grants' ``until`` at every door, whenever this runs; this sweep moves the
states (grace, lapsed, ended) and tells people. Each step is conditional, so running twice, or
in two workers, issues and tells once.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction

from btt_platform import clock
from memberships import notices
from memberships.models import Membership, MembershipPeriod
from memberships.services import grant_period, issue_invoice, renewal_grace
from payments.errors import PaymentRefused

logger = logging.getLogger(__name__)
State = Membership.State


def renewal_notice(period: str) -> timedelta:
    days = (
        settings.MEMBERSHIP_RENEWAL_NOTICE_DAYS_YEARLY
        if period == Membership.Period.YEARLY
        else settings.MEMBERSHIP_RENEWAL_NOTICE_DAYS_MONTHLY
    )
    return timedelta(days=days)


def renew_memberships(now: datetime | None = None) -> int:
    """Issue due renewals and move states by time; how many memberships changed."""
    now = now or clock.now()
    changed = 0
    running = Membership.objects.filter(
        state__in=[State.ACTIVE, State.GRACE, State.CANCELLED], paid_until__isnull=False
    ).select_related("tier__creator", "fan")
    for membership in running:
        try:
            changed += _step(membership, now)
        except Exception:
            # One membership's trouble (a creator without a payout address) holds up no other;
            # the next run tries it again.
            logger.exception("renewing membership %s failed", membership.pk)
    return changed


def _step(membership: Membership, now: datetime) -> int:
    paid_until = membership.paid_until
    assert paid_until is not None
    grace_end = paid_until + renewal_grace()
    if membership.state == State.CANCELLED:
        return (
            _move(membership, State.CANCELLED, State.ENDED, "ended", now)
            if now >= paid_until
            else 0
        )
    if now >= grace_end:
        return _move(membership, membership.state, State.LAPSED, "lapsed", now)
    if now >= paid_until and membership.state == State.ACTIVE:
        # A first sweep after the end (none ran in the notice days) issues the renewal and
        # grants the grace too: the grace email below promises access until the grace ends.
        issued = _issue_renewal(membership, paid_until, grace_end)
        return issued | _move(membership, State.ACTIVE, State.GRACE, "grace", now, email=(
            "Your membership renewal is unpaid",
            f"Your {membership.tier.name} membership ended its paid period on "
            f"{paid_until:%Y-%m-%d}. Access continues until {grace_end:%Y-%m-%d %H:%M} UTC; "
            "pay the renewal before then to keep it.",
        ))  # fmt: skip
    if now >= paid_until - renewal_notice(membership.period):
        return _issue_renewal(membership, paid_until, grace_end)
    return 0


def _move(
    membership: Membership,
    old: str,
    new: str,
    kind: str,
    now: datetime,
    email: tuple[str, str] | None = None,
) -> int:
    with transaction.atomic():
        moved = Membership.objects.filter(pk=membership.pk, state=old).update(state=new)
        if moved != 1:
            return 0
        membership.state = new
        notices.record(membership, kind, f"until:{membership.paid_until}", email=email)
    return 1


def _issue_renewal(membership: Membership, paid_until: datetime, grace_end: datetime) -> int:
    if membership.renewal_issued_for == paid_until:
        return 0
    tier = membership.next_tier or membership.tier
    if tier.retired_at is not None:
        # A retired tier renews no more: the membership runs to the end of what was paid.
        return _move(membership, membership.state, State.CANCELLED, "cancelled", clock.now())
    try:
        with transaction.atomic():
            claimed = (
                Membership.objects.filter(pk=membership.pk, state=State.ACTIVE)
                .exclude(renewal_issued_for=paid_until)
                .update(renewal_issued_for=paid_until)
            )
            if claimed != 1:
                return 0
            period = issue_invoice(membership, lifetime_until=grace_end)
            if grace_end > paid_until:
                grace = MembershipPeriod.objects.create(
                    membership=membership,
                    tier=membership.tier,
                    kind=MembershipPeriod.Kind.GRACE,
                    starts_at=paid_until,
                    ends_at=grace_end,
                )
                grant_period(grace)
            assert period.invoice is not None
            notices.record(
                membership,
                "renewal_due",
                f"until:{paid_until.isoformat()}",
                {"invoice_id": str(period.invoice.pk), "due": period.invoice.due.to_json(),
                 "due_by": paid_until.isoformat()},
                email=(
                    "Your membership renews soon",
                    f"Your {tier.name} membership is paid until {paid_until:%Y-%m-%d}. "
                    f"Pay {period.invoice.due} to continue without a gap.",
                ),
            )  # fmt: skip
    except PaymentRefused as refusal:
        logger.warning("renewal of membership %s not issued: %s", membership.pk, refusal)
        return 0
    return 1
