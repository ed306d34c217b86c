"""Invoices: exact amounts in the database, unique amounts, the state machine, the event log,
expiry (by a real worker too)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test import override_settings
from django.utils import timezone

from accounts.models import User
from creators.models import Creator
from ledger import services as ledger
from ledger.models import Grant
from payments import crediting, invoices
from payments.errors import InvalidTransition, StateConflict, TokenNotAccepted, TooManyOpenInvoices
from payments.models import AppendOnly, ContentPrice, Invoice, InvoiceEvent
from payments.money import BTT_TOTAL_SUPPLY_UNITS, Amount, Token
from payments.tasks import expire_invoices
from purchases import services as purchases
from swarm.models import Content
from tests.fixtures.personas import make_user
from tests.fixtures.processes import Child
from tests.payments.factories import (
    CREATOR_ADDRESS,
    FIRST_DUE,
    OTHER_ADDRESS,
    PRICE,
    paid_content,
    paying,
    proven,
    purchase,
    with_wallet,
)

State = Invoice.State
SUPPLY_PLUS_ONE = BTT_TOTAL_SUPPLY_UNITS + 1  # 990,000,000,000,000 BTT and one base unit


# --- amounts in the database -----------------------------------------------------------------


def stored(memo: str) -> object:
    """The column's value as the database driver returns it, before the field converts it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT amount_due FROM payments_invoice WHERE memo = %s", [memo])
        return cursor.fetchone()[0]


def test_the_total_supply_plus_one_round_trips_exactly(fan: User, creator: Creator) -> None:
    # given: an invoice (and a price) for all the BTT there is, and one base unit more
    with_wallet(creator)
    content = paid_content(creator)
    # (stored directly: no price may be set above the supply, see test_pricing_hostile.py)
    ContentPrice.objects.filter(content=content).update(units=SUPPLY_PLUS_ONE)
    invoice = Invoice.objects.create(
        kind=Invoice.Kind.PURCHASE,
        creator=creator,
        payer=fan,
        content=content,
        recipient=CREATOR_ADDRESS,
        token=Token.BTT.value,
        amount_due=SUPPLY_PLUS_ONE,
        amount_paid=SUPPLY_PLUS_ONE,
        memo="ROUNDTRIP01",
        expires_at=timezone.now(),
    )

    # when: read back
    again = Invoice.objects.get(pk=invoice.pk)

    # then: every digit is there, in the column too (a float would end in ...000)
    assert again.amount_due == SUPPLY_PLUS_ONE == 990_000_000_000_000_000_000_000_000_000_001
    assert again.paid == Amount.parse("990000000000000.000000000000000001", Token.BTT)
    assert int(str(stored(invoice.memo))) == SUPPLY_PLUS_ONE
    assert ContentPrice.objects.get(content=content).units == SUPPLY_PLUS_ONE
    assert Invoice.objects.filter(amount_due=SUPPLY_PLUS_ONE).get() == invoice
    assert not Invoice.objects.filter(amount_due=BTT_TOTAL_SUPPLY_UNITS).exists()


def test_amounts_sort_and_compare_as_numbers(fan: User, creator: Creator) -> None:
    with_wallet(creator)
    amounts = [SUPPLY_PLUS_ONE, 10**24 + 1, 10**24, 10**19, 9, 10, 0, 2**64, 2**63 - 1]
    for index, units in enumerate(amounts):
        Invoice.objects.create(
            kind=Invoice.Kind.TIP,
            creator=creator,
            recipient=CREATOR_ADDRESS,
            token=Token.BTT.value,
            amount_due=units,
            memo=f"SORT{index:06d}",
            expires_at=timezone.now(),
        )

    ordered = list(Invoice.objects.order_by("amount_due").values_list("amount_due", flat=True))
    above = Invoice.objects.filter(amount_due__gt=10**24).values_list("amount_due", flat=True)
    between = Invoice.objects.filter(amount_due__gte=10, amount_due__lt=2**64)

    assert ordered == sorted(amounts)
    assert sorted(above) == [10**24 + 1, SUPPLY_PLUS_ONE]
    assert sorted(between.values_list("amount_due", flat=True)) == [10, 2**63 - 1, 10**19]
    assert Invoice.objects.filter(amount_due__in=[9, 10**24 + 1, 12]).count() == 2


@pytest.mark.parametrize("bad", [1.5, -1, True, "12a", "1e3", 10**78])
def test_the_field_refuses_what_is_not_whole_base_units(creator: Creator, bad: object) -> None:
    with pytest.raises(ValidationError), transaction.atomic():
        Invoice.objects.create(
            kind=Invoice.Kind.TIP,
            creator=creator,
            recipient=CREATOR_ADDRESS,
            token=Token.BTT.value,
            amount_due=bad,  # type: ignore[misc]
            memo="BAD0000001",
            expires_at=timezone.now(),
        )
    assert not Invoice.objects.exists()


# --- creating invoices -----------------------------------------------------------------------


def test_a_purchase_invoice_asks_the_price_plus_a_tag_at_the_creators_address(
    fan: User, creator: Creator
) -> None:
    invoice = purchase(fan, creator)

    assert (invoice.kind, invoice.state, invoice.token) == ("purchase", State.NEW, "BTT")
    assert invoice.due == FIRST_DUE == PRICE + Amount(10**12, Token.BTT)
    assert (invoice.paid, invoice.recipient, invoice.payer) == (
        Amount.zero(Token.BTT),
        CREATOR_ADDRESS,
        fan,
    )
    assert invoice.expires_at - invoice.created_at == timedelta(minutes=15)
    assert len(invoice.memo) == 10
    event = invoice.events.get()
    assert (event.kind, event.to_state, event.actor, event.detail) == (
        "created",
        "new",
        fan,
        {"price": "100", "due": "100.000001"},
    )


def test_open_invoices_on_one_address_never_share_an_amount(
    fan: User, stranger: User, creator: Creator
) -> None:
    with_wallet(creator)
    album, single = paid_content(creator, "Album"), paid_content(creator, "Single")
    third = make_user("third")
    other = Creator.objects.create(
        user=make_user("other"), handle="other", display_name="Other", payout_address=OTHER_ADDRESS
    )

    dues = [
        purchases.create_purchase_invoice(fan, album)[0].due,
        purchases.create_purchase_invoice(stranger, album)[0].due,
        purchases.create_purchase_invoice(third, album)[0].due,
        purchases.create_purchase_invoice(fan, single)[0].due,  # same price, same address
        purchases.create_purchase_invoice(fan, paid_content(other, "Elsewhere"))[0].due,
    ]

    assert [due.decimal_string() for due in dues] == [
        "100.000001",
        "100.000002",
        "100.000003",
        "100.000004",
        "100.000001",  # another address: its own tags
    ]


def test_a_freed_tag_is_used_again_but_not_an_expired_one_within_the_late_window(
    fan: User, stranger: User, creator: Creator
) -> None:
    with_wallet(creator)
    album = paid_content(creator)
    first, _ = purchases.create_purchase_invoice(fan, album)
    second, _ = purchases.create_purchase_invoice(stranger, album)
    invoices.expire_invoices(now=first.expires_at + timedelta(seconds=1))
    third, _ = purchases.create_purchase_invoice(make_user("third"), album)
    assert third.due.decimal_string() == "100.000003"  # 1 and 2 may still be paid late

    # when: the late window is over for the expired ones
    Invoice.objects.filter(pk__in=[first.pk, second.pk]).update(
        expires_at=timezone.now() - timedelta(days=2), closed_at=timezone.now() - timedelta(days=2)
    )
    fourth, _ = purchases.create_purchase_invoice(make_user("fourth"), album)

    assert fourth.due.decimal_string() == "100.000001"


def test_the_payer_gets_their_unpaid_invoice_back(fan: User, creator: Creator) -> None:
    invoice = purchase(fan, creator)

    again, created = purchases.create_purchase_invoice(fan, invoice.content)  # type: ignore[arg-type]

    assert (again, created) == (invoice, False)
    assert Invoice.objects.count() == 1


def test_the_recipient_stays_the_address_at_creation(fan: User, creator: Creator) -> None:
    invoice = purchase(fan, creator)

    with_wallet(creator, OTHER_ADDRESS)

    invoice.refresh_from_db()
    assert invoice.recipient == CREATOR_ADDRESS


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"access": Content.Access.FREE}, purchases.NotForSale),
        ({"state": Content.State.HASHING}, purchases.NotForSale),
        ({"state": Content.State.REMOVED}, purchases.NotForSale),
        ({"price": None}, purchases.NotForSale),
        ({"owned": True}, purchases.AlreadyOwned),
    ],
)
def test_what_cannot_be_bought(
    fan: User, creator: Creator, change: dict[str, object], error: type[Exception]
) -> None:
    with_wallet(creator)
    content = paid_content(creator)
    if change.pop("price", 1) is None:
        ContentPrice.objects.filter(content=content).delete()
    if change.pop("owned", False):
        ledger.grant(fan, content, Grant.Source.STAFF)
    Content.objects.filter(pk=content.pk).update(**change)
    content.refresh_from_db()

    with pytest.raises(error):
        purchases.create_purchase_invoice(fan, content)

    assert not Invoice.objects.exists()


def test_a_creator_cannot_buy_their_own_content(creator: Creator) -> None:
    with_wallet(creator)

    with pytest.raises(purchases.NotForSale):
        purchases.create_purchase_invoice(creator.user, paid_content(creator))

    assert not Invoice.objects.exists()


def test_unpaid_invoices_per_payer_are_limited(fan: User, creator: Creator) -> None:
    with_wallet(creator)
    for index in range(invoices.MAX_OPEN_INVOICES_PER_PAYER):
        purchases.create_purchase_invoice(fan, paid_content(creator, f"Album{index}"))

    with pytest.raises(TooManyOpenInvoices):
        purchases.create_purchase_invoice(fan, paid_content(creator, "OneTooMany"))

    assert Invoice.objects.count() == invoices.MAX_OPEN_INVOICES_PER_PAYER


def test_trc10_prices_are_refused_unless_enabled(creator: Creator) -> None:
    with_wallet(creator)
    content = paid_content(creator)

    with pytest.raises(TokenNotAccepted):
        purchases.set_content_price(creator.user, content, Amount.parse("1", Token.BTTOLD))
    with override_settings(PAYMENTS_TRC10_ENABLED=True):
        price = purchases.set_content_price(creator.user, content, Amount.parse("1", Token.BTTOLD))

    assert price.amount == Amount(1_000_000, Token.BTTOLD)


@override_settings(INVOICE_EXPIRY_SECONDS=60)
def test_the_lifetime_is_a_setting(fan: User, creator: Creator) -> None:
    invoice = purchase(fan, creator)

    assert invoice.expires_at - invoice.created_at == timedelta(seconds=60)


# --- the state machine and its log -------------------------------------------------------------


def test_moves_outside_the_table_are_refused_and_leave_no_trace(
    fan: User, creator: Creator
) -> None:
    invoice = purchase(fan, creator)

    for target in (State.SETTLED, State.NEW):
        with pytest.raises(InvalidTransition):
            invoices.move_invoice(invoice, target)

    invoice.refresh_from_db()
    assert invoice.state == State.NEW
    assert not invoice.events.filter(kind="state").exists()
    assert invoices.TRANSITIONS[State.SETTLED] == set()
    # invalid only turns back to processing: its dropped payment mined again
    assert invoices.TRANSITIONS[State.INVALID] == {State.PROCESSING}


def test_a_stale_copy_cannot_move_the_state(fan: User, creator: Creator) -> None:
    # given: two processes loaded the same new invoice; one expires it
    invoice = purchase(fan, creator)
    stale = Invoice.objects.get(pk=invoice.pk)
    invoices.move_invoice(invoice, State.EXPIRED)

    # when: the other acts on what it read
    with pytest.raises(StateConflict):
        invoices.move_invoice(stale, State.PROCESSING)

    # then: one change, one event
    invoice.refresh_from_db()
    assert invoice.state == State.EXPIRED
    assert list(invoice.events.filter(kind="state").values_list("from_state", "to_state")) == [
        ("new", "expired")
    ]


def test_the_event_log_is_append_only(fan: User, creator: Creator) -> None:
    invoice = purchase(fan, creator)
    event = invoice.events.get()

    event.kind = "state"
    with pytest.raises(AppendOnly):
        event.save()
    with pytest.raises(AppendOnly):
        event.delete()
    with pytest.raises(AppendOnly):
        InvoiceEvent.objects.filter(pk=event.pk).update(kind="state")
    with pytest.raises(AppendOnly):
        InvoiceEvent.objects.all().delete()

    assert InvoiceEvent.objects.get().kind == "created"


def test_expiry_turns_only_overdue_new_invoices_expired(
    fan: User, stranger: User, creator: Creator
) -> None:
    overdue = purchase(fan, creator, "Overdue")
    fresh = purchase(stranger, creator, "Fresh")
    Invoice.objects.filter(pk=fresh.pk).update(expires_at=timezone.now() + timedelta(hours=1))
    paid = purchase(make_user("payer"), creator, "Paid")
    crediting.record_transfer(proven(*paying(paid)), solidified=False)
    later = timezone.now() + timedelta(minutes=16)

    assert invoices.expire_invoices(now=later) == 1
    assert invoices.expire_invoices(now=later) == 0  # twice is harmless

    states = dict(Invoice.objects.values_list("pk", "state"))
    assert states == {overdue.pk: "expired", fresh.pk: "new", paid.pk: "processing"}
    event = overdue.events.get(kind="state")
    assert (event.from_state, event.to_state, event.actor) == ("new", "expired", None)


@override_settings(PAYMENTS_INSTANT_GRANT_UNITS={"BTT": 200 * 10**18})
def test_small_purchases_may_be_granted_at_the_first_confirmation(
    fan: User, creator: Creator
) -> None:
    invoice = purchase(fan, creator)

    crediting.record_transfer(proven(*paying(invoice)), solidified=False)

    invoice.refresh_from_db()
    assert invoice.state == State.PROCESSING
    assert Grant.objects.filter(user=fan, content=invoice.content).exists()


def test_watched_addresses_are_those_a_payment_may_still_reach(fan: User, creator: Creator) -> None:
    assert invoices.watched_addresses() == set()

    invoice = purchase(fan, creator)

    assert invoices.watched_addresses() == {CREATOR_ADDRESS}
    Invoice.objects.filter(pk=invoice.pk).update(
        state=State.EXPIRED, expires_at=timezone.now() - timedelta(days=2)
    )
    assert invoices.watched_addresses() == set()


@pytest.mark.django_db(transaction=True)
def test_the_worker_expires_invoices(celery_worker: Child, fan: User, creator: Creator) -> None:
    invoice = purchase(fan, creator)
    Invoice.objects.filter(pk=invoice.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    assert expire_invoices.apply_async(ignore_result=False).get(timeout=60) == 1

    invoice.refresh_from_db()
    assert invoice.state == State.EXPIRED


def test_an_anonymous_tip_invoice(creator: Creator) -> None:
    with_wallet(creator)

    tip = invoices.create_invoice(
        kind=Invoice.Kind.TIP, creator=creator, amount=Amount.parse("5", Token.BTT)
    )

    assert (tip.payer, tip.content, tip.due.decimal_string()) == (None, None, "5.000001")


@pytest.mark.parametrize(
    ("kind", "with_payer", "with_content"),
    [
        (Invoice.Kind.PURCHASE, True, False),
        (Invoice.Kind.TIP, False, True),
        (Invoice.Kind.PLEDGE, False, False),
    ],
)
def test_an_invoice_without_what_its_kind_needs_is_a_bug(
    fan: User, creator: Creator, kind: Invoice.Kind, with_payer: bool, with_content: bool
) -> None:
    with_wallet(creator)
    content = paid_content(creator)

    with pytest.raises(ValueError, match=r"a purchase|anonymous"):
        invoices.create_invoice(
            kind=kind,
            creator=creator,
            amount=PRICE,
            payer=fan if with_payer else None,
            content=content if with_content else None,
        )

    assert not Invoice.objects.exists()
