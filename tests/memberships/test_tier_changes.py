"""Changing tier and changing a tier's price, on the real invoice state machine and ledger: a
change applies from the next period (nothing prorated, the paid period keeps its tier and
price), the hostile changes are refused with nothing changed, and members are told of a new
price by email and on their Memberships page; the renewal invoice asks the new price while an
invoice already issued keeps the old one."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from accounts.models import OutgoingEmail, User
from creators.models import Creator
from ledger import access
from memberships import renewals, services
from memberships.models import Membership, Tier
from payments.errors import NotFound
from payments.models import Invoice
from swarm.models import Content
from tests.fixtures.clock import Clock, move_to
from tests.fixtures.memberships import settle
from tests.fixtures.money import btt
from tests.fixtures.personas import make_user
from tests.fixtures.sessions import logged_in
from tests.payments.factories import paid_content, with_wallet

pytestmark = pytest.mark.django_db
State = Membership.State


@pytest.fixture
def tiers(creator: Creator) -> tuple[Tier, Tier]:
    with_wallet(creator)
    lower = services.save_tier(creator, name="Supporter", monthly=btt("10"), rank=1)
    higher = services.save_tier(creator, name="Patron", monthly=btt("25"), rank=2)
    return lower, higher


def member_of(fan: User, tier: Tier) -> Membership:
    membership, invoice = services.join(fan, tier)
    settle(invoice)
    membership.refresh_from_db()
    return membership


def paid_until(membership: Membership) -> datetime:
    membership.refresh_from_db()
    assert membership.paid_until is not None
    return membership.paid_until


def test_an_upgrade_applies_from_the_next_period_at_the_higher_price(
    clock: Clock, fan: User, creator: Creator, tiers: tuple[Tier, Tier]
) -> None:
    # given: a Supporter, and a content for Patrons
    lower, higher = tiers
    patrons_only: Content = paid_content(creator, "Patrons only")
    services.mark_for_members(creator.user, patrons_only, higher)
    membership = member_of(fan, lower)
    end = paid_until(membership)
    # when: the fan upgrades
    services.change_tier(fan, membership, higher)
    # then: the paid period keeps its tier: no Patron access before a Patron period is paid
    membership.refresh_from_db()
    assert (membership.tier, membership.next_tier) == (lower, higher)
    assert not access.may_fetch(fan, patrons_only, clock.now())
    # when: the renewal is issued and paid
    move_to(clock, end - timedelta(days=7))
    renewals.renew_memberships()
    renewal = services.open_invoice(membership)
    assert renewal is not None
    assert renewal.asked == btt("25")
    settle(renewal)
    # then: Patron from the end of the paid period, on to the end of the Patron period
    membership.refresh_from_db()
    assert (membership.tier, membership.next_tier) == (higher, None)
    assert not access.may_fetch(fan, patrons_only, clock.now())
    assert access.may_fetch(fan, patrons_only, end + timedelta(minutes=1))


def test_a_downgrade_keeps_the_higher_tier_to_the_end_of_what_was_paid(
    clock: Clock, fan: User, creator: Creator, tiers: tuple[Tier, Tier]
) -> None:
    lower, higher = tiers
    patrons_only = paid_content(creator, "Patrons only")
    services.mark_for_members(creator.user, patrons_only, higher)
    membership = member_of(fan, higher)
    end = paid_until(membership)
    services.change_tier(fan, membership, lower)
    assert access.may_fetch(fan, patrons_only, clock.now())
    move_to(clock, end - timedelta(days=7))
    renewals.renew_memberships()
    renewal = services.open_invoice(membership)
    assert renewal is not None
    assert renewal.asked == btt("10")
    settle(renewal)
    assert access.may_fetch(fan, patrons_only, end - timedelta(minutes=1))
    assert not access.may_fetch(fan, patrons_only, end + timedelta(minutes=1))


def test_changing_twice_before_paying_keeps_the_last_choice_and_an_issued_renewal_its_tier(
    clock: Clock, fan: User, tiers: tuple[Tier, Tier]
) -> None:
    lower, higher = tiers
    membership = member_of(fan, lower)
    end = paid_until(membership)
    move_to(clock, end - timedelta(days=7))
    renewals.renew_memberships()
    renewal = services.open_invoice(membership)
    assert renewal is not None
    # when: upgrade, then back, then upgrade again, with the Supporter renewal issued
    services.change_tier(fan, membership, higher)
    services.change_tier(fan, membership, lower)
    assert Membership.objects.get(pk=membership.pk).next_tier is None
    services.change_tier(fan, membership, higher)
    # then: one invoice still, for the Supporter price; the change waits for the period after
    assert services.open_invoice(membership) == renewal
    assert Invoice.objects.filter(membership_period__membership=membership).count() == 2
    assert renewal.asked == btt("10")
    settle(renewal)
    membership.refresh_from_db()
    assert (membership.tier, membership.next_tier) == (lower, higher)


def test_undoing_an_upgrade_after_its_renewal_was_issued_keeps_the_choice_for_the_period_after(
    clock: Clock, fan: User, tiers: tuple[Tier, Tier]
) -> None:
    # given: a Supporter who upgraded, with the Patron renewal issued
    lower, higher = tiers
    membership = member_of(fan, lower)
    end = paid_until(membership)
    services.change_tier(fan, membership, higher)
    move_to(clock, end - timedelta(days=7))
    renewals.renew_memberships()
    renewal = services.open_invoice(membership)
    assert renewal is not None
    assert renewal.asked == btt("25")
    # when: the fan goes back to Supporter before paying
    services.change_tier(fan, membership, lower)
    # then: the page says the issued renewal stands and the change follows it
    client = logged_in(fan)
    page = client.get("/memberships/").content.decode()
    assert (
        "You change to Supporter (10 BTT) from the period after the renewal already issued "
        "for Patron." in page
    )
    # when: the Patron renewal is paid, and the next one comes
    settle(renewal)
    membership.refresh_from_db()
    assert (membership.tier, membership.next_tier) == (higher, lower)
    move_to(clock, paid_until(membership) - timedelta(days=7))
    renewals.renew_memberships()
    # then: the period after is Supporter at its price
    following = services.open_invoice(membership)
    assert following is not None
    assert following.asked == btt("10")
    settle(following)
    membership.refresh_from_db()
    assert (membership.tier, membership.next_tier) == (lower, None)


@pytest.mark.parametrize("case", ["other creator", "retired", "full", "no yearly price"])
def test_hostile_tier_changes_are_refused_and_change_nothing(
    case: str, fan: User, tiers: tuple[Tier, Tier]
) -> None:
    lower, higher = tiers
    membership = member_of(fan, lower)
    if case == "other creator":
        theirs = Creator.objects.create(
            user=make_user("rival"), handle="rival", display_name="Rival", payout_address=""
        )
        with_wallet(theirs)
        target = services.save_tier(theirs, name="Theirs", monthly=btt("1"), rank=9)
    elif case == "retired":
        services.retire_tier(higher)
        target = Tier.objects.get(pk=higher.pk)
    elif case == "full":
        higher.member_limit = 1
        higher.save()
        member_of(make_user("first-patron"), higher)
        target = higher
    else:
        membership.period = Membership.Period.YEARLY
        membership.save()
        target = higher
    with pytest.raises(services.MembershipRefused):
        services.change_tier(fan, membership, target)
    membership.refresh_from_db()
    assert (membership.tier, membership.next_tier) == (lower, None)


def test_a_lapsed_or_pending_membership_cannot_change_tier(
    clock: Clock, fan: User, tiers: tuple[Tier, Tier]
) -> None:
    lower, higher = tiers
    pending, _ = services.join(fan, lower)
    with pytest.raises(services.MembershipRefused, match="Only an active membership"):
        services.change_tier(fan, pending, higher)
    settle(services.open_invoice(pending))  # type: ignore[arg-type]
    end = paid_until(pending)
    move_to(clock, end + services.renewal_grace() + timedelta(seconds=1))
    renewals.renew_memberships()
    pending.refresh_from_db()
    assert pending.state == State.LAPSED
    with pytest.raises(services.MembershipRefused, match="Only an active membership"):
        services.change_tier(fan, pending, higher)
    pending.refresh_from_db()
    assert pending.next_tier is None


def test_changing_someone_elses_membership_is_not_found(
    fan: User, tiers: tuple[Tier, Tier]
) -> None:
    lower, higher = tiers
    membership = member_of(fan, lower)
    with pytest.raises(NotFound):
        services.change_tier(make_user("mallory"), membership, higher)
    response = logged_in(make_user("eve")).post(
        f"/api/v1/memberships/{membership.pk}/tier",
        json.dumps({"tier_id": higher.pk}),
        content_type="application/json",
    )
    assert response.status_code == 404
    membership.refresh_from_db()
    assert membership.next_tier is None


def test_the_memberships_page_and_api_change_tier(fan: User, tiers: tuple[Tier, Tier]) -> None:
    lower, higher = tiers
    membership = member_of(fan, lower)
    client = logged_in(fan)
    page = client.get("/memberships/").content.decode()
    assert "Change tier from the next period" in page
    assert "Patron · 25 BTT a month" in page
    # when: the page's form upgrades
    response = client.post(f"/memberships/{membership.pk}/tier/", {"tier": higher.pk}, follow=True)
    assert "You change to Patron (25 BTT) from your next period." in response.content.decode()
    # and the API reads it back, then downgrades back to the current tier
    mine = client.get("/api/v1/memberships").json()
    assert mine[0]["next_tier"]["name"] == "Patron"
    assert mine[0]["upcoming"] == ["You change to Patron (25 BTT) from your next period."]
    undone = client.post(
        f"/api/v1/memberships/{membership.pk}/tier",
        json.dumps({"tier_id": lower.pk}),
        content_type="application/json",
    )
    assert undone.status_code == 200
    assert undone.json()["next_tier"] is None
    # a retired tier through the API: 409 with the reason
    services.retire_tier(higher)
    refused = client.post(
        f"/api/v1/memberships/{membership.pk}/tier",
        json.dumps({"tier_id": higher.pk}),
        content_type="application/json",
    )
    assert refused.status_code == 409
    assert refused.json()["detail"] == "Choose an open tier of the same creator."
    spec = client.get("/api/v1/openapi.json").json()
    assert "post" in spec["paths"]["/api/v1/memberships/{membership_id}/tier"]


def test_a_new_price_is_told_and_asked_at_the_next_renewal_while_an_issued_one_keeps_its_price(
    clock: Clock, fan: User, creator: Creator, tiers: tuple[Tier, Tier]
) -> None:
    # given: two Supporters, one with the next period's invoice already issued at 10 BTT
    lower, _ = tiers
    early = make_user("early-renewer")
    other = member_of(early, lower)
    clock.advance(timedelta(days=5))
    membership = member_of(fan, lower)
    end = paid_until(membership)
    move_to(clock, paid_until(other) - timedelta(days=7))
    assert renewals.renew_memberships() == 1
    issued = services.open_invoice(other)
    assert issued is not None
    sent_before = OutgoingEmail.objects.count()
    # when: the creator raises the price mid-period
    services.save_tier(creator, name="Supporter", monthly=btt("12"), rank=1, tier=lower)
    # then: each member is emailed once, through the outbox
    told = OutgoingEmail.objects.filter(subject="Supporter: new price from your next renewal")
    assert sorted(e.to[0] for e in told) == sorted([fan.email, early.email])
    assert OutgoingEmail.objects.count() == sent_before + 2
    assert "changes from 10 BTT to 12 BTT a month" in told[0].body
    # and a save with the same price tells nobody again
    services.save_tier(creator, name="Supporter", monthly=btt("12"), rank=1, tier=lower)
    assert OutgoingEmail.objects.count() == sent_before + 2
    # and each page says it, with the issued invoice keeping its price
    page = logged_in(fan).get("/memberships/").content.decode()
    assert "The price of Supporter is now 12 BTT (was 10 BTT): it applies from your next" in page
    theirs = logged_in(early).get("/memberships/").content.decode()
    assert "from the renewal after the one already issued" in theirs
    # when: the renewals come
    move_to(clock, end - timedelta(days=7))
    renewals.renew_memberships()
    # then: the issued invoice keeps 10 BTT; the renewal issued now asks 12 BTT
    issued.refresh_from_db()
    assert issued.asked == btt("10")
    assert services.open_invoice(other) == issued
    renewal = services.open_invoice(membership)
    assert renewal is not None
    assert renewal.asked == btt("12")
    settle(renewal)
    settle(issued)
    assert Membership.objects.get(pk=other.pk).state == State.ACTIVE
    assert "The price of" not in logged_in(fan).get("/memberships/").content.decode()
