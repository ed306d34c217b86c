"""A post for members follows the membership exactly as its member contents do, with the
platform clock moved: paid, renewal due, grace (still readable), lapsed (not), paid late
(readable again); and a cancel in grace closes it at once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ledger import access
from memberships import posts, renewals, services
from memberships.models import Membership
from payments.invoices import move_invoice
from payments.models import Invoice
from tests.fixtures.memberships import settle
from tests.memberships.posting import member, tiers
from tests.payments.factories import paid_content

pytestmark = pytest.mark.django_db
State = Membership.State


def test_a_post_is_readable_exactly_while_member_content_is(clock, creator, fan):
    # given: a supporter, a post and a content for supporters
    low, _ = tiers(creator)
    content = paid_content(creator, "Bonus")
    services.mark_for_members(creator.user, content, low)
    post = posts.publish_post(creator, title="News", body="text", tier=low)
    membership = member(fan, low)
    assert membership.paid_until is not None
    paid_until = membership.paid_until

    def both() -> tuple[bool, bool]:
        now = clock.now()
        return posts.may_read(fan, post, now).allowed, access.may_fetch(fan, content, now)

    # paid
    assert both() == (True, True)
    # renewal due, a week before the end
    clock.advance(paid_until - timedelta(days=7) - clock.now())
    renewals.renew_memberships()
    assert both() == (True, True)
    # grace: the period ended, the renewal unpaid
    clock.advance(paid_until + timedelta(hours=1) - clock.now())
    renewals.renew_memberships()
    membership.refresh_from_db()
    assert membership.state == State.GRACE
    assert both() == (True, True)
    # lapsed: past the grace, whether or not the sweep ran yet
    clock.advance(paid_until + timedelta(days=3, seconds=1) - clock.now())
    assert both() == (False, False)
    renewals.renew_memberships()
    membership.refresh_from_db()
    assert membership.state == State.LAPSED
    assert both() == (False, False)
    # a late payment: readable again, for a whole period
    clock.advance(timedelta(days=2))
    settle(services.pay_now(fan, membership))
    assert both() == (True, True)
    later = clock.now() + timedelta(days=27)
    assert posts.may_read(fan, post, later).allowed
    assert access.may_fetch(fan, content, later)


def test_cancelling_in_grace_closes_the_post_with_the_content(clock, creator, fan):
    low, _ = tiers(creator)
    post = posts.publish_post(creator, title="News", body="text", tier=low)
    membership = member(fan, low)
    assert membership.paid_until is not None
    clock.advance(membership.paid_until + timedelta(hours=1) - clock.now())
    renewals.renew_memberships()
    assert posts.may_read(fan, post, clock.now()).allowed
    services.cancel(fan, membership)
    assert not posts.may_read(fan, post, clock.now()).allowed


def test_a_dropped_payment_takes_the_post_back(clock, settings, creator, fan):
    settings.PAYMENTS_INSTANT_GRANT_UNITS = {"BTT": 100 * 10**18}
    low, _ = tiers(creator)
    post = posts.publish_post(creator, title="News", body="text", tier=low)
    _, invoice = services.join(fan, low)
    # given: a payment seen in a block, under the instant-grant limit, opens it
    move_invoice(invoice, Invoice.State.PROCESSING)
    assert posts.may_read(fan, post, clock.now()).allowed
    # when: it leaves the chain
    move_invoice(invoice, Invoice.State.INVALID)
    # then
    assert not posts.may_read(fan, post, clock.now()).allowed
