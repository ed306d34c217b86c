"""A membership's life on the real invoice state machine and access ledger, with the platform
clock moved through months: join, pay, renew, grace, lapse, late payment, cancel, full tier,
paying twice, an old invoice after a newer one."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import pytest

from accounts.models import OutgoingEmail, User
from creators.models import Creator
from ledger import access
from memberships import renewals, services
from memberships.models import Membership, MembershipEvent, Tier
from payments.invoices import move_invoice
from payments.models import Invoice, WebhookDelivery
from payments.money import Amount, Token
from payments.webhooks.services import create_webhook
from swarm.models import Content
from tests.fixtures.clock import move_to
from tests.fixtures.memberships import settle
from tests.fixtures.personas import make_user
from tests.payments.factories import paid_content, with_wallet

pytestmark = pytest.mark.django_db
State = Membership.State
MONTHLY = Amount.parse("10", Token.BTT)


def until(membership: Membership) -> datetime:
    membership.refresh_from_db()
    assert membership.paid_until is not None
    return membership.paid_until


def open_renewal(membership: Membership) -> Invoice:
    invoice = services.open_invoice(membership)
    assert invoice is not None
    return invoice


@pytest.fixture
def tier(creator: Creator) -> Tier:
    with_wallet(creator)
    return services.save_tier(creator, name="Supporter", monthly=MONTHLY, rank=1)


@pytest.fixture
def member_content(creator: Creator, tier: Tier) -> Content:
    content = paid_content(creator, "Bonus")
    services.mark_for_members(creator.user, content, tier)
    return content


def test_join_then_pay_grants_until_the_period_end(clock, fan: User, tier, member_content):
    # given
    membership, invoice = services.join(fan, tier)
    assert membership.state == State.PENDING
    assert not access.may_fetch(fan, member_content, clock.now())
    # when
    settle(invoice)
    # then
    membership.refresh_from_db()
    assert membership.state == State.ACTIVE
    decision = access.decide(fan, member_content, clock.now())
    assert decision.allowed
    assert decision.reason == "membership"
    assert decision.until == until(membership)
    assert until(membership) - clock.now() > timedelta(days=27)
    assert list(membership.events.values_list("kind", flat=True)) == ["started"]


def test_renewal_grace_lapse_and_late_payment(clock, fan, tier, member_content):
    membership, invoice = services.join(fan, tier)
    settle(invoice)
    membership.refresh_from_db()
    paid_until = until(membership)
    # a week before the end: the next invoice, open to the end of grace, and an email
    move_to(clock, paid_until - timedelta(days=7))
    assert renewals.renew_memberships() == 1
    assert renewals.renew_memberships() == 0  # twice issues once
    renewal = open_renewal(membership)
    assert renewal is not None
    assert renewal.pk != invoice.pk
    assert abs(renewal.expires_at - (paid_until + timedelta(days=3))) < timedelta(seconds=1)
    assert membership.events.filter(kind="renewal_due").count() == 1
    assert OutgoingEmail.objects.filter(to=[fan.email], subject__contains="renews").count() == 1
    # unpaid at the end: grace, access kept
    move_to(clock, paid_until + timedelta(hours=1))
    renewals.renew_memberships()
    membership.refresh_from_db()
    assert membership.state == State.GRACE
    assert access.may_fetch(fan, member_content, clock.now())
    # after grace: lapsed, access gone by the grants' own end
    move_to(clock, paid_until + timedelta(days=3, seconds=1))
    assert not access.may_fetch(fan, member_content, clock.now())
    renewals.renew_memberships()
    membership.refresh_from_db()
    assert membership.state == State.LAPSED
    # a late payment restores it, for a whole period from now
    clock.advance(timedelta(days=2))
    late = services.pay_now(fan, membership)
    settle(late)
    membership.refresh_from_db()
    assert membership.state == State.ACTIVE
    decision = access.decide(fan, member_content, clock.now())
    assert decision.allowed
    assert until(membership) > clock.now() + timedelta(days=27)
    assert membership.events.filter(kind="renewed").get().detail["restored"] is True


def test_renewal_paid_in_time_extends_without_a_gap(clock, fan, tier, member_content):
    membership, invoice = services.join(fan, tier)
    settle(invoice)
    membership.refresh_from_db()
    first_end = until(membership)
    clock.advance(first_end - clock.now() - timedelta(days=6))
    renewals.renew_memberships()
    settle(open_renewal(membership))
    membership.refresh_from_db()
    assert until(membership) > first_end + timedelta(days=27)
    for moment in (first_end - timedelta(seconds=1), first_end, first_end + timedelta(days=20)):
        assert access.may_fetch(fan, member_content, moment)


def test_cancel_runs_to_the_period_end(clock, fan, tier, member_content):
    membership, invoice = services.join(fan, tier)
    settle(invoice)
    membership.refresh_from_db()
    end = until(membership)
    clock.advance(end - clock.now() - timedelta(days=7))
    renewals.renew_memberships()
    renewal = open_renewal(membership)
    # when
    services.cancel(fan, membership)
    # then: the renewal is withdrawn, access to the end of the paid period and not after
    renewal.refresh_from_db()
    assert renewal.state == Invoice.State.EXPIRED
    assert access.may_fetch(fan, member_content, end - timedelta(seconds=1))
    assert not access.may_fetch(fan, member_content, end)
    clock.advance(end - clock.now() + timedelta(seconds=1))
    renewals.renew_memberships()
    membership.refresh_from_db()
    assert membership.state == State.ENDED


def test_joining_a_full_tier_is_refused(creator, fan, tier):
    tier.member_limit = 1
    tier.save()
    _, invoice = services.join(fan, tier)
    settle(invoice)
    other = make_user("other")
    with pytest.raises(services.TierFull, match="Supporter is full"):
        services.join(other, tier)
    assert not Membership.objects.filter(fan=other).exists()


def test_paying_twice_buys_the_following_period(clock, fan, tier, member_content):
    """An old period's invoice paid after a newer one (accepted late by the creator) buys the
    period after the newer one: nothing granted twice, no paid period lost."""
    membership, invoice = services.join(fan, tier)
    settle(invoice)
    membership.refresh_from_db()
    end = until(membership)
    clock.advance(end - clock.now() - timedelta(days=7))
    renewals.renew_memberships()
    renewal = open_renewal(membership)
    # the fan lets it lapse, pays anew, then the old one arrives and is accepted
    clock.advance(timedelta(days=11))
    renewals.renew_memberships()
    move_invoice(Invoice.objects.get(pk=renewal.pk), Invoice.State.EXPIRED)
    fresh = services.pay_now(fan, membership)
    settle(fresh)
    membership.refresh_from_db()
    after_fresh = until(membership)
    settle(Invoice.objects.get(pk=renewal.pk))  # EXPIRED -> PROCESSING -> SETTLED
    membership.refresh_from_db()
    assert until(membership) > after_fresh + timedelta(days=27)
    periods = list(membership.periods.filter(kind="paid").order_by("starts_at"))
    for earlier, later in itertools.pairwise(periods):
        assert earlier.ends_at is not None
        assert later.starts_at is not None
        assert earlier.ends_at <= later.starts_at  # no overlap: nothing granted twice


def test_membership_webhooks_are_queued_once_each(
    clock, settings, creator, fan, tier, member_content
):
    settings.PAYMENTS_WEBHOOK_ALLOW_PRIVATE = True
    create_webhook(creator.user, "http://127.0.0.1:9/members")
    membership, invoice = services.join(fan, tier)
    settle(invoice)
    membership.refresh_from_db()
    clock.advance(until(membership) - clock.now() - timedelta(days=7))
    renewals.renew_memberships()
    renewals.renew_memberships()
    services.cancel(fan, membership)
    events = list(
        WebhookDelivery.objects.filter(event__startswith="membership.").values_list(
            "event", flat=True
        )
    )
    assert sorted(events) == [
        "membership.cancelled",
        "membership.renewal_due",
        "membership.started",
    ]
    started = WebhookDelivery.objects.get(event="membership.started")
    assert started.payload["membership"]["fan"] is None  # not listed: no name
    assert MembershipEvent.objects.filter(kind="renewal_due").count() == 1


def test_a_dropped_payment_mined_again_restores_the_period(
    clock, settings, fan, tier, member_content
):
    """Paid at the first confirmation, dropped, then the same transfer mined again: the invoice
    is paid after all, so its period stands again (no paid period is lost)."""
    settings.PAYMENTS_INSTANT_GRANT_UNITS = {Token.BTT.value: 2 * MONTHLY.units}
    membership, invoice = services.join(fan, tier)
    move_invoice(invoice, Invoice.State.PROCESSING)
    assert access.may_fetch(fan, member_content, clock.now())
    move_invoice(invoice, Invoice.State.INVALID)
    assert not access.may_fetch(fan, member_content, clock.now())
    # when: mined again
    move_invoice(invoice, Invoice.State.PROCESSING)
    # then
    membership.refresh_from_db()
    assert membership.state == State.ACTIVE
    assert until(membership) > clock.now() + timedelta(days=27)
    assert access.may_fetch(fan, member_content, clock.now())
    move_invoice(invoice, Invoice.State.SETTLED)
    assert membership.periods.get().standing


def test_a_payment_dropped_before_settling_counts_once_settled(clock, fan, tier, member_content):
    """Access waits for settlement: dropped while processing, mined again, then settled."""
    membership, invoice = services.join(fan, tier)
    move_invoice(invoice, Invoice.State.PROCESSING)
    move_invoice(invoice, Invoice.State.INVALID)
    # when
    settle(invoice)
    # then
    membership.refresh_from_db()
    assert membership.state == State.ACTIVE
    assert until(membership) > clock.now() + timedelta(days=27)
    assert access.may_fetch(fan, member_content, clock.now())


def test_a_first_sweep_after_the_period_end_issues_the_renewal_and_grace(
    clock, fan, tier, member_content
):
    """The sweep did not run in the notice days (down, or a period shorter than the notice):
    the grace it announces is granted, with the renewal to pay."""
    membership, invoice = services.join(fan, tier)
    settle(invoice)
    paid_until = until(membership)
    # when: the first sweep after the end
    move_to(clock, paid_until + timedelta(hours=1))
    renewals.renew_memberships()
    # then
    membership.refresh_from_db()
    assert membership.state == State.GRACE
    renewal = open_renewal(membership)
    assert renewal.pk != invoice.pk
    assert membership.events.filter(kind="renewal_due").count() == 1
    assert access.may_fetch(fan, member_content, clock.now())
    assert access.may_fetch(fan, member_content, paid_until + timedelta(days=3, seconds=-1))
    assert renewals.renew_memberships() == 0  # twice issues once


def test_cancel_during_grace_ends_the_grace(clock, fan, tier, member_content):
    """A grace is access kept while the renewal may still be paid; cancelling withdraws the
    renewal, so the grace ends with it, begun or not."""
    membership, invoice = services.join(fan, tier)
    settle(invoice)
    paid_until = until(membership)
    move_to(clock, paid_until - timedelta(days=7))
    renewals.renew_memberships()
    renewal = open_renewal(membership)
    move_to(clock, paid_until + timedelta(hours=1))
    renewals.renew_memberships()
    membership.refresh_from_db()
    assert membership.state == State.GRACE
    assert access.may_fetch(fan, member_content, clock.now())
    # when
    services.cancel(fan, membership)
    # then
    membership.refresh_from_db()
    assert membership.state == State.ENDED
    renewal.refresh_from_db()
    assert renewal.state == Invoice.State.EXPIRED
    assert not access.may_fetch(fan, member_content, clock.now())
