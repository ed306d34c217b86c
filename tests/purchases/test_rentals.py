"""Renting a content: the window from the first use, its end at every door through the one
decision, renting twice, and buying after renting. Payments are credited as the chain watcher
credits them (java-tron's JSON, proven); time moves with the ``clock`` fixture."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from accounts.models import User
from creators.models import Creator
from ledger import access
from ledger.models import Grant
from payments import crediting
from payments.errors import PaymentRefused
from payments.models import Invoice
from purchases import rentals
from purchases import services as purchases
from purchases.models import Rental
from swarm.models import Content
from swarm.services import active_passkey
from swarm.tracker import auth
from swarm.tracker.auth import Refusal
from swarm.webseed import tokens
from tests.fixtures.clock import Clock
from tests.fixtures.rentals import INFOHASH, RENT, rent, settle
from tests.payments.factories import paid_content, paying, proven, with_wallet

pytestmark = pytest.mark.django_db


def webseed_status(fan: User, content: Content) -> int | None:
    """What the web seed answers: 403 when refused, else 404 (no such file, asked after the
    access check) or a target."""
    target = tokens.authorise(str(content.pk), tokens.issue_token(fan, content), "nope")
    return target if isinstance(target, int) else None


def announce(fan: User) -> object:
    key = active_passkey(fan).key
    auth.forget_passkey(key)  # decided afresh, as after the tracker's cache time
    return asyncio.run(auth.authorise(key, INFOHASH))


def test_a_paid_rental_runs_until_its_latest_end_until_first_used(
    fan: User, film: Content, clock: Clock
) -> None:
    # when
    invoice = rent(fan, film)

    # then
    decision = access.decide(fan, film)
    assert decision.allowed
    assert decision.reason == Grant.Source.RENTAL
    rental = Rental.objects.get(invoice=invoice)
    assert rental.paid_at is not None
    assert decision.until == rental.paid_at + timedelta(days=30)

    # and an unused rental still ends then
    clock.advance(timedelta(days=30, seconds=1))
    assert not access.may_fetch(fan, film)


@pytest.mark.django_db(transaction=True)
def test_the_window_runs_from_the_first_use_and_then_every_door_refuses(
    fan: User, film: Content, clock: Clock
) -> None:
    # given a rental, untouched for a day
    invoice = rent(fan, film)
    clock.advance(timedelta(days=1))

    # when the web seed serves it for the first time
    assert webseed_status(fan, film) == 404  # past the access check
    started = Rental.objects.get(invoice=invoice).started_at
    assert started is not None

    # then the open grant was replaced by one ending 48 hours later, in the append-only ledger
    grants = list(Grant.objects.filter(source=Grant.Source.RENTAL, source_ref=str(invoice.pk)))
    assert len(grants) == 2
    assert grants[0].revoked_at is not None
    assert grants[0].revoke_reason == "rental window started"
    assert grants[1].revoked_at is None
    assert grants[1].until == started + timedelta(hours=48)
    assert not isinstance(announce(fan), Refusal)

    # when the window ends
    clock.advance(timedelta(hours=48, seconds=1))

    # then the page, the web seed and the tracker refuse, and nothing was granted anew
    assert access.decide(fan, film).allowed is False
    assert webseed_status(fan, film) == 403
    refusal = announce(fan)
    assert isinstance(refusal, Refusal)
    assert refusal.reason == "not entitled to this torrent"
    assert Grant.objects.filter(source=Grant.Source.RENTAL).count() == 2


def test_a_second_use_does_not_move_the_window(fan: User, film: Content, clock: Clock) -> None:
    invoice = rent(fan, film)
    access.decide_for_use(fan, film)
    first_end = access.decide(fan, film).until

    clock.advance(timedelta(hours=20))
    access.decide_for_use(fan, film)

    assert access.decide(fan, film).until == first_end
    assert Grant.objects.filter(source_ref=str(invoice.pk)).count() == 2


def test_the_window_never_runs_past_the_latest_end(fan: User, film: Content, clock: Clock) -> None:
    invoice = rent(fan, film)
    clock.advance(timedelta(days=29, hours=1))

    access.decide_for_use(fan, film)

    rental = Rental.objects.get(invoice=invoice)
    assert rental.paid_at is not None
    assert access.decide(fan, film).until == rental.paid_at + timedelta(days=30)


def test_renting_again_while_the_rental_runs_is_refused_and_after_it_ended_is_a_new_rental(
    fan: User, film: Content, clock: Clock
) -> None:
    # given
    rent(fan, film)

    # when / then
    with pytest.raises(purchases.AlreadyOwned, match="rental of this content is still running"):
        rentals.create_rental_invoice(fan, film)
    assert Invoice.objects.filter(kind=Invoice.Kind.RENTAL).count() == 1

    # when the rental ended
    clock.advance(timedelta(days=31))
    second = rent(fan, film, seq=1)

    # then
    assert access.decide(fan, film).grant_id is not None
    assert Rental.objects.filter(user=fan, content=film).count() == 2
    assert second.amount_due != 0


def test_an_open_rental_invoice_comes_back_instead_of_a_second(fan: User, film: Content) -> None:
    first, created = rentals.create_rental_invoice(fan, film)
    again, created_again = rentals.create_rental_invoice(fan, film)
    assert created
    assert not created_again
    assert again.pk == first.pk


def test_buying_after_renting_costs_the_full_price_and_gives_open_ended_access(
    fan: User, film: Content, clock: Clock
) -> None:
    # given a running rental
    rent(fan, film)
    access.decide_for_use(fan, film)

    # when the fan buys
    invoice, created = purchases.create_purchase_invoice(fan, film)
    settle(invoice, seq=1)

    # then the full price was asked, and access no longer ends with the rental
    assert created
    price = purchases.price_of(film)
    assert price is not None
    # The price plus the invoice's tag in the sixth decimal: nothing taken off for the rental.
    assert price.units < invoice.amount_due < price.units + 10**18
    clock.advance(timedelta(days=60))
    decision = access.decide(fan, film)
    assert decision.allowed
    assert decision.reason == Grant.Source.PURCHASE
    assert decision.until is None
    with pytest.raises(purchases.AlreadyOwned):
        rentals.create_rental_invoice(fan, film)


def test_a_dropped_rental_payment_takes_back_the_started_window(
    fan: User, film: Content, settings: Any
) -> None:
    # given a rental granted at its first confirmation, and started
    settings.PAYMENTS_INSTANT_GRANT_UNITS = {"BTT": RENT.units * 2}
    invoice, _ = rentals.create_rental_invoice(fan, film)
    crediting.record_transfer(proven(*paying(invoice)), solidified=False)
    assert access.decide_for_use(fan, film).allowed
    assert Grant.objects.filter(source_ref=str(invoice.pk)).count() == 2
    payment = invoice.payments.get()

    # when its transfer leaves the chain

    crediting.drop_transfer(payment.txid, payment.log_index)

    assert not access.may_fetch(fan, film)
    assert not Grant.objects.filter(source_ref=str(invoice.pk), revoked_at__isnull=True).exists()


def test_content_not_offered_for_rent_is_refused(fan: User, creator: Creator) -> None:
    with_wallet(creator)
    album = paid_content(creator, "Album")
    with pytest.raises(rentals.NotForRent):
        rentals.create_rental_invoice(fan, album)
    assert not Invoice.objects.exists()


@pytest.mark.parametrize(("hours", "days"), [(0, 30), (721, 30), (48, 0), (48, 31)])
def test_a_window_out_of_bounds_is_refused(creator: Creator, hours: int, days: int) -> None:
    content = paid_content(creator, "Film")
    with pytest.raises(PaymentRefused):
        rentals.set_rental_terms(creator.user, content, RENT, hours, days)
    assert rentals.rental_terms_of(content) is None


def test_only_the_creator_sets_rental_terms(stranger: User, creator: Creator) -> None:
    content = paid_content(creator, "Film")
    with pytest.raises(PaymentRefused):
        rentals.set_rental_terms(stranger, content, RENT, 48, 30)
    assert rentals.rental_terms_of(content) is None
