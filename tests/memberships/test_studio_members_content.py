"""The studio's content page marks a paid content for members of a tier or higher: its
members download it at once, lower tiers and strangers do not, unmarking takes it back, and a
takedown still closes it to members like everyone else. Another creator cannot mark it."""

from __future__ import annotations

import pytest

from accounts.models import User
from creators.models import Creator
from ledger import access
from memberships import services
from memberships.models import MemberContent, Membership, Tier
from payments.invoices import move_invoice
from payments.models import Invoice
from payments.money import Amount, Token
from swarm.models import Content
from swarm.services import take_down_content
from tests.fixtures.clock import Clock
from tests.fixtures.personas import make_user
from tests.fixtures.sessions import logged_in
from tests.payments.factories import paid_content, with_wallet

pytestmark = pytest.mark.django_db


def member_of(fan: User, tier: Tier) -> Membership:
    membership, invoice = services.join(fan, tier)
    move_invoice(invoice, Invoice.State.PROCESSING)
    move_invoice(invoice, Invoice.State.SETTLED)
    return membership


@pytest.fixture
def tiers(creator: Creator) -> tuple[Tier, Tier]:
    with_wallet(creator)
    lower = services.save_tier(creator, name="Supporter", monthly=Amount.parse("10", Token.BTT))
    higher = services.save_tier(
        creator, name="Patron", monthly=Amount.parse("25", Token.BTT), rank=2
    )
    return lower, higher


def test_the_content_page_marks_a_content_for_a_tier_and_higher_and_unmarks_it(
    clock: Clock, creator: Creator, fan: User, tiers: tuple[Tier, Tier], staff: User
) -> None:
    # given: a Supporter and a Patron, and a paid content for nobody yet
    lower, higher = tiers
    patron = make_user("patron")
    member_of(fan, lower)
    member_of(patron, higher)
    content = paid_content(creator, "Bonus")
    studio = logged_in(creator.user)
    page = studio.get(f"/studio/content/{content.pk}/").content.decode()
    assert "Included for members of" in page
    assert '<option value="" selected>No tier: buyers only</option>' in page
    assert not access.may_fetch(patron, content, clock.now())

    # when: the creator marks it for Patrons
    response = studio.post(f"/studio/content/{content.pk}/members/", {"tier": higher.pk})

    # then: Patrons download it, Supporters do not, and the page shows the choice
    assert response.status_code == 302
    assert access.may_fetch(patron, content, clock.now())
    assert not access.may_fetch(fan, content, clock.now())
    page = studio.get(f"/studio/content/{content.pk}/").content.decode()
    assert f'<option value="{higher.pk}" selected>Patron or higher</option>' in page

    # when: lowered to Supporters, both members have it
    studio.post(f"/studio/content/{content.pk}/members/", {"tier": lower.pk})
    assert access.may_fetch(fan, content, clock.now())
    assert access.decide(fan, content, clock.now()).reason == "membership"

    # when: taken down by staff, members lose it like everyone else
    take_down_content(staff, content.pk, "copyright")
    content.refresh_from_db()
    assert not access.may_fetch(fan, content, clock.now())
    assert not access.may_fetch(patron, content, clock.now())

    # when: unmarked, nothing is for members any more
    studio.post(f"/studio/content/{content.pk}/members/", {"tier": ""})
    assert not MemberContent.objects.filter(content=content).exists()


def test_a_free_content_has_no_member_choice_and_is_refused(
    creator: Creator, tiers: tuple[Tier, Tier]
) -> None:
    lower, _ = tiers
    free = Content.objects.create(
        creator=creator, title="Free", name="free.bin", access=Content.Access.FREE,
        state=Content.State.SEEDING,
    )  # fmt: skip
    studio = logged_in(creator.user)
    assert (
        "Included for members of" not in studio.get(f"/studio/content/{free.pk}/").content.decode()
    )
    response = studio.post(f"/studio/content/{free.pk}/members/", {"tier": lower.pk}, follow=True)
    assert "Free content is open to everyone already." in response.content.decode()
    assert not MemberContent.objects.exists()


def test_another_creator_can_neither_mark_this_content_nor_use_their_tier_on_it(
    creator: Creator, tiers: tuple[Tier, Tier]
) -> None:
    lower, _ = tiers
    content = paid_content(creator, "Bonus")
    rival = Creator.objects.create(
        user=make_user("rival"), handle="rival", display_name="Rival", payout_address=""
    )
    with_wallet(rival)
    their_tier = services.save_tier(rival, name="Theirs", monthly=Amount.parse("1", Token.BTT))
    # the rival on this creator's content: not found
    response = logged_in(rival.user).post(
        f"/studio/content/{content.pk}/members/", {"tier": their_tier.pk}
    )
    assert response.status_code == 404
    # this creator with the rival's tier: refused, nothing marked
    response = logged_in(creator.user).post(
        f"/studio/content/{content.pk}/members/", {"tier": their_tier.pk}, follow=True
    )
    assert "No such content." in response.content.decode()
    assert not MemberContent.objects.exists()
    # a stranger who is no creator
    assert (
        logged_in(make_user("nobody"))
        .post(f"/studio/content/{content.pk}/members/", {"tier": lower.pk})
        .status_code
        == 404
    )
    assert not MemberContent.objects.exists()
