"""What a membership tells: its event log, the creator's webhooks and the fan's emails. Each
event is recorded once (``MembershipEvent``'s key); only a new record queues a webhook or an
email, so a sweep that runs twice tells nobody twice."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q

from accounts.mail import queue_email
from btt_platform import clock
from memberships.models import Membership, MembershipEvent, MembershipPeriod, Tier
from payments.models import Invoice
from payments.money import Amount
from payments.webhooks.events import queue_event

# Events a creator's webhook can listen to; the others (grace, ended) are in the log only.
WEBHOOK_EVENTS = {"started", "renewed", "renewal_due", "lapsed", "cancelled"}


def membership_payload(membership: Membership) -> dict[str, Any]:
    """What a webhook says of a membership: the fan by name only if they chose to be listed."""
    tier = membership.tier
    return {
        "id": membership.pk,
        "tier": {"id": tier.pk, "name": tier.name, "rank": tier.rank},
        "period": membership.period,
        "state": membership.state,
        "paid_until": membership.paid_until.isoformat() if membership.paid_until else None,
        "fan": membership.fan.username if membership.listed else None,
    }


def record(
    membership: Membership,
    kind: str,
    key: str,
    detail: dict[str, Any] | None = None,
    email: tuple[str, str] | None = None,
) -> bool:
    """Record ``kind`` (once per ``key``); on the first time, queue its webhook and ``email``
    (subject, body) to the fan. Whether it was new."""
    try:
        with transaction.atomic():
            MembershipEvent.objects.create(
                membership=membership,
                kind=kind,
                key=key[:64],
                detail=detail or {},
                created_at=clock.now(),
            )
    except IntegrityError:
        return False
    if kind in WEBHOOK_EVENTS:
        payload = {"membership": membership_payload(membership), "detail": detail or {}}
        queue_event(membership.tier.creator_id, f"membership.{kind}", payload)
    if email is not None and membership.fan.email:
        subject, body = email
        queue_email(
            subject, f"{body}\n\n{settings.SITE_URL}/memberships/\n", [membership.fan.email]
        )
    return True


def tell_price_change(tier: Tier, monthly: Amount | None, yearly: Amount | None) -> int:
    """Tell the members who renew into ``tier`` that its price for their period changed from
    ``monthly``/``yearly`` (an email through the outbox and the event log, once per change). A
    cancelled membership renews no more, so it is not told. How many were told."""
    told = 0
    renewing = Membership.objects.filter(
        Q(tier=tier, next_tier__isnull=True) | Q(next_tier=tier),
        state__in=[Membership.State.ACTIVE, Membership.State.GRACE],
    ).select_related("fan", "tier")
    now = clock.now()
    for membership in renewing:
        before = monthly if membership.period == Membership.Period.MONTHLY else yearly
        after = tier.price(membership.period)
        if after is None or before == after:
            continue
        unit = "month" if membership.period == Membership.Period.MONTHLY else "year"
        due = membership.paid_until.strftime("%Y-%m-%d") if membership.paid_until else "renewal"
        body = (
            f"The price of {tier.name} changes from {before} to {after} a {unit}.\n"
            f"It applies from your next renewal (due {due}); what you have paid, and an "
            "invoice already issued, keep their price."
        )
        told += record(
            membership,
            "price_changed",
            f"price:{tier.pk}:{now.isoformat()}",
            {"tier": tier.pk, "before": str(before), "after": str(after)},
            email=(f"{tier.name}: new price from your next renewal", body),
        )
    return told


def upcoming_changes(membership: Membership) -> list[str]:
    """What changes at the membership's next renewal, in the words of its page: a tier chosen
    for the next period, and a price that differs from the one last invoiced."""
    if membership.state not in (Membership.State.ACTIVE, Membership.State.GRACE):
        return []
    notes = []
    next_tier = membership.next_tier or membership.tier
    price = next_tier.price(membership.period)
    # The last period paid or still open to pay: an expired invoice asks nothing any more.
    open_states = [Invoice.State.NEW, Invoice.State.PROCESSING]
    last = (
        MembershipPeriod.objects.filter(
            membership=membership, kind=MembershipPeriod.Kind.PAID, voided_at__isnull=True
        )
        .filter(Q(paid_at__isnull=False) | Q(invoice__state__in=open_states))
        .select_related("invoice", "tier")
        .order_by("-created_at", "-pk")
        .first()
    )
    issued_unpaid = last is not None and last.paid_at is None
    if membership.next_tier is not None:
        when = (
            f"the period after the renewal already issued for {last.tier.name}"
            if issued_unpaid and last is not None and last.tier_id != next_tier.pk
            else "your next period"
        )
        notes.append(f"You change to {next_tier.name} ({price}) from {when}.")
    if last is not None and last.invoice is not None and last.tier_id == next_tier.pk:
        asked = last.invoice.asked
        if price is not None and asked != price:
            notes.append(
                f"The price of {next_tier.name} is now {price} (was {asked}): "
                + ("from the renewal after the one already issued." if issued_unpaid
                   else "it applies from your next renewal.")
            )  # fmt: skip
    return notes
