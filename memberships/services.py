"""Memberships: tiers, joining, paying a period, cancelling, changing tier, and which contents a
tier covers. Money is payments' business and access the ledger's: a paid period becomes grants
(source ``membership``, one per covered content, ``until`` the period's end).

Rules:
- Each paid membership invoice buys one period of the tier it was issued for, appended to the
  paid time: from the end of the paid time while the membership has not lapsed (no gap, and the
  grace days are not extra), else from the moment of payment (a late payment restores it).
  Paying a renewal twice, or an old period's invoice after a newer one, therefore buys the
  period after the last one paid: nothing is granted twice and no paid period is lost.
- A tier change (up or down) applies from the next period: the next invoice is for the new
  tier at its price. A price change likewise applies to invoices issued after it.
- A tier's member limit is checked when a fan joins; a first invoice paid after the tier filled
  still starts the membership (money sent is never refused).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet

from accounts.models import User
from btt_platform import clock
from creators.models import Creator
from ledger import services as ledger
from ledger.models import Grant
from memberships import notices
from memberships.models import MemberContent, Membership, MembershipPeriod, Tier, period_end
from payments.errors import NotFound, PaymentRefused
from payments.invoices import create_invoice, move_invoice
from payments.models import Invoice
from payments.money import Amount, Token
from payments.outcomes import Outcome
from payments.pricing import check_price, instant_grant_limit
from swarm.models import Content

State = Membership.State
RUNNING = (State.ACTIVE, State.GRACE, State.CANCELLED)


class MembershipRefused(PaymentRefused):
    status = 409


class TierFull(MembershipRefused):
    pass


# --- tiers ----------------------------------------------------------------------------------


def save_tier(
    creator: Creator,
    *,
    name: str,
    monthly: Amount,
    yearly: Amount | None = None,
    description: str = "",
    member_limit: int | None = None,
    rank: int = 1,
    tier: Tier | None = None,
) -> Tier:
    """Make or change a tier. A new price applies to invoices issued from now on (a period
    already invoiced keeps its price), and the tier's members are told once. Raises
    PaymentRefused (a price not above zero, beyond the token, or in two tokens)."""
    check_price(monthly)
    if yearly is not None:
        check_price(yearly)
        if yearly.token != monthly.token:
            raise PaymentRefused("Both prices of a tier are in one token.")
    tier = tier or Tier(creator=creator)
    if tier.creator_id != creator.pk:
        raise NotFound("No such tier.")
    before = (tier.price_monthly, tier.price_yearly) if tier.pk else None
    tier.name, tier.description, tier.rank = name, description, rank
    tier.token, tier.monthly_units = monthly.token.value, monthly.units
    tier.yearly_units = 0 if yearly is None else yearly.units
    tier.member_limit = member_limit
    with transaction.atomic():
        tier.save()
        if before is not None:
            notices.tell_price_change(tier, *before)
    return tier


def retire_tier(tier: Tier) -> None:
    """No new members or renewals; members keep it to the end of what they paid."""
    Tier.objects.filter(pk=tier.pk, retired_at__isnull=True).update(retired_at=clock.now())


def member_count(tier: Tier) -> int:
    """Members holding a place: running memberships (active, in grace, or cancelled but paid)."""
    return Membership.objects.filter(tier=tier, state__in=RUNNING).count()


# --- joining and paying ---------------------------------------------------------------------


def join(
    fan: User, tier: Tier, period: str = Membership.Period.MONTHLY, *, listed: bool = False,
    origin: str = "",
) -> tuple[Membership, Invoice]:  # fmt: skip
    """The fan's membership of ``tier`` and the invoice for its first period (their open one if
    they have it). Raises MembershipRefused (retired tier, own tier, no yearly price, already a
    member of this creator), TierFull, and create_invoice's refusals."""
    if tier.retired_at is not None:
        raise MembershipRefused("This tier is closed to new members.")
    if tier.creator.user_id == fan.pk:
        raise MembershipRefused("This is your own tier.")
    if tier.price(period) is None:
        raise MembershipRefused("This tier has no yearly price.")
    running = Membership.objects.filter(fan=fan, tier__creator=tier.creator, state__in=RUNNING)
    if running.exists():
        raise MembershipRefused("You are a member already; change tier from your memberships.")
    with transaction.atomic():
        locked = Tier.objects.select_for_update().get(pk=tier.pk)
        if locked.member_limit is not None and member_count(locked) >= locked.member_limit:
            raise TierFull(f"{tier.name} is full: all {tier.member_limit} places are taken.")
        membership, _ = Membership.objects.get_or_create(
            fan=fan, tier=tier, defaults={"period": period, "listed": listed}
        )
        if membership.state != State.PENDING:  # a lapsed or ended membership, joined again
            membership.state = State.PENDING
        membership.period, membership.listed, membership.next_tier = period, listed, None
        membership.save()
    current = open_invoice(membership)
    if current is not None:
        return membership, current
    return membership, issue_invoice(membership, origin=origin).invoice  # type: ignore[return-value]


def issue_invoice(
    membership: Membership, *, origin: str = "", lifetime_until: datetime | None = None
) -> MembershipPeriod:
    """An invoice for the membership's next period, at the price of its tier for it (the next
    tier after a change) when issued. ``lifetime_until``: open until then (a renewal waits to the
    end of the grace period), else the usual invoice lifetime."""
    tier = membership.next_tier or membership.tier
    amount = tier.price(membership.period)
    if amount is None:
        raise MembershipRefused("This tier has no price for this period.")
    lifetime = None if lifetime_until is None else lifetime_until - clock.now()
    with transaction.atomic():
        invoice = create_invoice(
            kind=Invoice.Kind.MEMBERSHIP,
            creator=tier.creator,
            amount=amount,
            payer=membership.fan,
            lifetime=lifetime,
            origin=origin,
        )
        return MembershipPeriod.objects.create(membership=membership, tier=tier, invoice=invoice)


def open_invoice(membership: Membership) -> Invoice | None:
    """The membership's invoice still to be paid or being proven, if any (the pay-now button)."""
    return (
        Invoice.objects.filter(membership_period__membership=membership)
        .filter(
            Q(state=Invoice.State.NEW, expires_at__gt=clock.now())
            | Q(state=Invoice.State.PROCESSING)
        )
        .order_by("-created_at")
        .first()
    )


def pay_now(fan: User, membership: Membership, origin: str = "") -> Invoice:
    """The invoice a fan pays now: the open one, or a new one for the next period (a lapsed
    membership restored). Raises NotFound (not theirs), MembershipRefused (ended, retired)."""
    if membership.fan_id != fan.pk:
        raise NotFound("No such membership.")
    current = open_invoice(membership)
    if current is not None:
        return current
    if membership.state == State.ENDED or membership.tier.retired_at is not None:
        raise MembershipRefused("This membership has ended; join a tier again.")
    return issue_invoice(membership, origin=origin).invoice  # type: ignore[return-value]


def membership_outcome(invoice: Invoice, outcome: Outcome) -> None:
    """What an outcome of a membership invoice means (registered in MembershipsConfig.ready;
    runs in the outcome's transaction): settled, or processing under the instant-grant limit,
    pays its period; invalid takes that period back. Late and over payments are payments'
    (kept and flagged for the creator); one the creator accepts arrives here as settled."""
    period = MembershipPeriod.objects.filter(invoice=invoice).first()
    if period is None:
        return
    instant = invoice.amount_due <= instant_grant_limit(Token(invoice.token))
    if outcome is Outcome.SETTLED or (outcome is Outcome.PROCESSING and instant):
        pay_period(period)
    elif outcome is Outcome.INVALID:
        void_period(period, "payment dropped")


def pay_period(period: MembershipPeriod) -> None:
    """Date the paid period after the paid time (or from now once lapsed), grant what its tier
    covers for it, and make the membership active. Safe to call twice. A voided period is paid
    again: its dropped payment was mined again (INVALID -> PROCESSING), so it counts after all."""
    if period.voided_at is not None:
        # The same transaction came back on the chain: the invoice is paid after all, so the
        # period stands again, dated afresh after the paid time (void_period moved paid_until
        # back), else a paid period would be lost while the membership shows active.
        period.voided_at, period.paid_at = None, None
    elif period.paid_at is not None:
        return
    now = clock.now()
    membership = Membership.objects.select_for_update().get(pk=period.membership_id)
    grace = renewal_grace()
    running = membership.paid_until is not None and now <= membership.paid_until + grace
    start = membership.paid_until if running and membership.paid_until else now
    earlier = membership.periods.filter(kind=MembershipPeriod.Kind.PAID, paid_at__isnull=False)
    period.starts_at, period.ends_at = start, period_end(start, membership.period)
    period.paid_at = now
    period.save(update_fields=["starts_at", "ends_at", "paid_at", "voided_at"])
    was = membership.state
    membership.tier = period.tier
    if membership.next_tier_id == period.tier.pk:
        membership.next_tier = None
    membership.paid_until = period.ends_at
    membership.state = State.ACTIVE
    membership.cancelled_at = None
    membership.save()
    grant_period(period)
    # The grace granted the tier that was paid while this renewal was unpaid; from here the paid
    # period covers that time with its own tier, so a downgrade keeps no higher grace.
    superseded = membership.periods.filter(
        kind=MembershipPeriod.Kind.GRACE, voided_at__isnull=True, starts_at__gte=start
    ).exclude(tier=period.tier)
    for superseded_grace in superseded:
        void_period(superseded_grace, "renewal paid for another tier")
    kind = "renewed" if earlier.exclude(pk=period.pk).exists() else "started"
    notices.record(
        membership,
        kind,
        f"period:{period.pk}",
        {"period_start": start.isoformat(), "period_end": period.ends_at.isoformat(),
         "restored": was == State.LAPSED},
    )  # fmt: skip


def void_period(period: MembershipPeriod, reason: str) -> None:
    """Take back a period's grants (its payment left the chain, or a grace the fan cancelled)."""
    if period.voided_at is not None:
        return
    MembershipPeriod.objects.filter(pk=period.pk).update(voided_at=clock.now())
    period.voided_at = clock.now()
    ledger.revoke_source(Grant.Source.MEMBERSHIP, period.source_ref, reason)
    if period.kind == MembershipPeriod.Kind.PAID:
        membership = period.membership
        last = (
            membership.periods.filter(kind="paid", paid_at__isnull=False, voided_at__isnull=True)
            .order_by("-ends_at")
            .values_list("ends_at", flat=True)
            .first()
        )
        Membership.objects.filter(pk=membership.pk).update(paid_until=last)


def renewal_grace() -> timedelta:
    return timedelta(days=settings.MEMBERSHIP_GRACE_DAYS)


# --- cancelling and changing tier -----------------------------------------------------------


def cancel(fan: User, membership: Membership) -> Membership:
    """Cancel: access runs to the end of the paid period; no renewal. An open renewal invoice
    expires and the grace period is taken back, begun or not (a grace is access kept while the
    renewal may still be paid; cancelling withdraws that renewal, so a cancel in grace ends the
    membership at once). Safe to call twice. Raises NotFound."""
    if membership.fan_id != fan.pk:
        raise NotFound("No such membership.")
    if membership.state not in (State.PENDING, State.ACTIVE, State.GRACE):
        return membership
    now = clock.now()
    with transaction.atomic():
        paid = membership.paid_until is not None and membership.paid_until > now
        membership.state = State.CANCELLED if paid else State.ENDED
        membership.cancelled_at = now
        membership.save(update_fields=["state", "cancelled_at"])
        for period in membership.periods.filter(kind="grace", voided_at__isnull=True):
            void_period(period, "membership cancelled")
        for period in membership.periods.filter(invoice__state=Invoice.State.NEW):
            assert period.invoice is not None
            move_invoice(period.invoice, Invoice.State.EXPIRED, reason="membership cancelled")
        notices.record(membership, "cancelled", f"at:{now.isoformat()}",
                       {"access_until": membership.paid_until.isoformat() if paid and
                        membership.paid_until else None})  # fmt: skip
    return membership


def change_tier(fan: User, membership: Membership, tier: Tier) -> Membership:
    """Upgrade or downgrade from the next period: the next invoice is for ``tier`` at its price.
    Nothing is prorated and no money moves mid-period, so a paid period always buys exactly the
    tier it was invoiced for (an upgrade paid at the lower price is impossible). A renewal
    already issued keeps its tier and price; the change then applies to the period after it.
    Choosing again before paying replaces the choice; choosing the current tier undoes it, or,
    when the issued renewal is for another tier, takes effect after that renewal.
    Raises NotFound (not theirs), MembershipRefused (not running: pending, lapsed, cancelled or
    ended; another creator's tier, retired, no price for the membership's period), TierFull."""
    if membership.fan_id != fan.pk:
        raise NotFound("No such membership.")
    if membership.state not in (State.ACTIVE, State.GRACE):
        raise MembershipRefused(
            "Only an active membership changes tier; pay it first (or join the tier you want)."
        )
    if tier.creator_id != membership.tier.creator_id:
        raise MembershipRefused("Choose an open tier of the same creator.")
    current = open_invoice(membership)
    issued = (
        None
        if current is None
        else MembershipPeriod.objects.filter(invoice=current, paid_at__isnull=True).first()
    )
    if tier.pk == membership.tier_id and (issued is None or issued.tier_id == tier.pk):
        membership.next_tier = None
        membership.save(update_fields=["next_tier"])
        return membership
    if tier.pk == membership.tier_id or (issued is not None and issued.tier_id == tier.pk):
        # Back to a tier the fan holds (or is invoiced for) while the issued renewal is for
        # another: the choice is kept for the period after that renewal, so paying it does not
        # carry its tier on past what it paid for. The fan holds a place already: no limit.
        membership.next_tier = tier
        membership.save(update_fields=["next_tier"])
        return membership
    if tier.retired_at is not None:
        raise MembershipRefused("Choose an open tier of the same creator.")
    if tier.price(membership.period) is None:
        raise MembershipRefused(f"{tier.name} has no {membership.period} price.")
    with transaction.atomic():
        # Locked as at join, so two fans cannot both take a full tier's last place.
        locked = Tier.objects.select_for_update().get(pk=tier.pk)
        if locked.member_limit is not None and member_count(locked) >= locked.member_limit:
            raise TierFull(f"{tier.name} is full: all {tier.member_limit} places are taken.")
        membership.next_tier = tier
        membership.save(update_fields=["next_tier"])
    return membership


# --- what a tier covers ---------------------------------------------------------------------


def covered_contents(tier: Tier) -> QuerySet[Content]:
    return Content.objects.filter(
        member_tier__tier__creator_id=tier.creator_id, member_tier__tier__rank__lte=tier.rank
    )


def tier_scope(tier: Tier) -> str:
    """The ledger standing a period of ``tier`` grants (``ledger.access.decide_standing``)."""
    return f"tier:{tier.pk}"


def grant_period(period: MembershipPeriod, contents: QuerySet[Content] | None = None) -> None:
    """Grant the period's member every content its tier covers (or ``contents``), over its
    dates; a period already over grants nothing."""
    if not period.standing or period.ends_at is None or period.ends_at <= clock.now():
        return
    fan = period.membership.fan
    if contents is None:
        # The tier's standing, for what asks "a member of this tier now" (members-only posts).
        ledger.grant_standing(
            fan,
            tier_scope(period.tier),
            Grant.Source.MEMBERSHIP,
            period.source_ref,
            starts_at=period.starts_at,
            until=period.ends_at,
        )
    for content in covered_contents(period.tier) if contents is None else contents:
        ledger.grant(
            fan,
            content,
            Grant.Source.MEMBERSHIP,
            period.source_ref,
            starts_at=period.starts_at,
            until=period.ends_at,
        )


def mark_for_members(user: User, content: Content, tier: Tier | None) -> None:
    """Make ``content`` for members of ``tier`` or higher (None: for members no more). Current
    members whose periods cover it are granted it for those periods at once; members no longer
    covered lose it. Raises NotFound (not the creator's), PaymentRefused (free content)."""
    if content.creator.user_id != user.pk or (tier and tier.creator_id != content.creator_id):
        raise NotFound("No such content.")
    if content.access != Content.Access.PAID:
        raise PaymentRefused("Free content is open to everyone already.")
    with transaction.atomic():
        if tier is None:
            MemberContent.objects.filter(content=content).delete()
        else:
            MemberContent.objects.update_or_create(content=content, defaults={"tier": tier})
        standing = Grant.objects.filter(
            source=Grant.Source.MEMBERSHIP, content=content, revoked_at__isnull=True
        )
        for grant_id, ref in standing.values_list("pk", "source_ref"):
            period = MembershipPeriod.objects.get(pk=int(ref.rsplit(":", 1)[1]))
            if tier is None or not period.tier.covers(tier):
                ledger.revoke_grant(grant_id, "no longer for this tier")
        if tier is None:
            return
        periods = MembershipPeriod.objects.filter(
            tier__creator_id=tier.creator_id, tier__rank__gte=tier.rank,
            ends_at__gt=clock.now(), voided_at__isnull=True,
        ).filter(Q(kind="grace") | Q(paid_at__isnull=False))  # fmt: skip
        for period in periods.select_related("membership__fan", "tier"):
            grant_period(period, Content.objects.filter(pk=content.pk))
