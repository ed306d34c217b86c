"""An invoice keeps the amount asked beside the amount due: the price or tip as set, without
the unique-amount tag, exact at the token's total supply; invoices made before it existed take
it from their "created" event, and alerts raised before show their tip as asked."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import pytest
from django.apps import apps

from accounts.models import User
from creators.models import Creator
from payments.invoices import create_invoice
from payments.models import Invoice
from payments.money import Amount, Token
from payments.pricing import MAX_TAG
from support.models import Alert
from tests.payments.factories import purchase, with_wallet
from tests.support.tipping import pay, tip, tipping_creator

pytestmark = pytest.mark.django_db

Backfill = Callable[[Any, Any], None]


def migration_step(module: str, name: str) -> Backfill:
    step: Backfill = getattr(importlib.import_module(module), name)
    return step


def test_an_invoice_asks_its_price_and_is_due_the_price_with_its_tag(
    fan: User, creator: Creator
) -> None:
    invoice = purchase(fan, creator)

    assert invoice.asked == Amount.parse("100", Token.BTT)
    assert invoice.due == Amount.parse("100.000001", Token.BTT)
    assert Invoice.objects.get(pk=invoice.pk).asked == invoice.asked


def test_the_amount_asked_is_exact_at_the_total_supply(fan: User, creator: Creator) -> None:
    # given: the largest price an invoice may ask (the supply less the room for any tag)
    with_wallet(creator)
    step = 10 ** (Token.BTT.decimals - 6)
    price = Amount(Token.BTT.total_supply_units - MAX_TAG * step, Token.BTT)

    # when
    made = create_invoice(kind=Invoice.Kind.TIP, creator=creator, amount=price, payer=fan)

    # then: stored and read back to the base unit, on SQLite as on PostgreSQL
    stored = Invoice.objects.get(pk=made.pk)
    assert stored.amount_asked == price.units
    assert stored.asked == price
    assert stored.due == price + Amount(step, Token.BTT)


def test_invoices_made_before_take_their_price_from_their_created_event(
    fan: User, creator: Creator
) -> None:
    # given: two invoices as they were before the amount asked was kept
    first = purchase(fan, creator, "One")
    second = purchase(fan, creator, "Two")
    Invoice.objects.filter(pk__in=[first.pk, second.pk]).update(amount_asked=0)
    assert Invoice.objects.get(pk=first.pk).asked == first.due  # read as due meanwhile

    # when: the migration's step runs (twice: it is safe to)
    backfill = migration_step("payments.migrations.0010_invoice_amount_asked", "backfill_asked")
    backfill(apps, None)
    backfill(apps, None)

    # then
    for invoice in (first, second):
        assert Invoice.objects.get(pk=invoice.pk).asked == Amount.parse("100", Token.BTT)


def test_alerts_raised_before_show_their_tip_as_asked(fan: User, creator: Creator) -> None:
    # given: an alert that carried the tagged amount paid
    tipping_creator(creator)
    made = tip(fan, creator)
    pay(made)
    Alert.objects.filter(tip=made).update(units=made.invoice.amount_due)

    # when
    migration_step("support.migrations.0004_alert_units_asked", "alerts_show_asked")(apps, None)

    # then
    assert Alert.objects.get(tip=made).amount == made.invoice.asked
