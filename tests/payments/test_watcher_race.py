"""Two chain watchers on one database credit every transfer once: two real processes following
the devnet, and two watchers applying the very same block at the same instant."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from accounts.models import User
from creators.models import Creator
from ledger.models import Grant
from payments.chain.applying import Applied
from payments.chain.node import NodeClient
from payments.chain.watcher import Watcher
from payments.models import ChainCursor, Invoice, InvoiceEvent, Payment
from purchases.services import create_purchase_invoice
from tests.fixtures.devnet import Devnet, funded_wallet
from tests.fixtures.processes import wait_for
from tests.payments.factories import paid_content
from tests.payments.watching import (
    block_of,
    creator_with_own_wallet,
    send_btt,
    start_watcher_process,
    wait_following,
)

pytestmark = pytest.mark.django_db(transaction=True)

SOLIDIFY = 3
BTT = 10**18
ONCE = [
    (InvoiceEvent.Kind.CREATED, "new"),
    (InvoiceEvent.Kind.PAYMENT, ""),
    (InvoiceEvent.Kind.STATE, "processing"),
    (InvoiceEvent.Kind.SOLIDIFIED, ""),
    (InvoiceEvent.Kind.STATE, "settled"),
]
T = TypeVar("T")


def purchases(fan: User, creator: Creator, count: int) -> list[Invoice]:
    creator_with_own_wallet(creator)
    return [
        create_purchase_invoice(fan, paid_content(creator, f"Album {n}"))[0] for n in range(count)
    ]


def assert_credited_once(invoices: list[Invoice], fan: User) -> None:
    assert Payment.objects.count() == len(invoices)
    for invoice in invoices:
        now = Invoice.objects.get(pk=invoice.pk)
        assert (now.state, now.amount_paid) == ("settled", invoice.amount_due)
        assert list(now.events.values_list("kind", "to_state")) == ONCE
        assert Grant.objects.filter(user=fan, content=invoice.content).count() == 1


def test_two_watcher_processes_following_the_chain_credit_each_payment_once(
    devnet_factory: Any, fan: User, creator: Creator, tmp_path: Path
) -> None:
    # given: two watchers started together on one database, neither with a cursor yet
    devnet: Devnet = devnet_factory(TRON_DEVNET_SOLIDIFY_BLOCKS=str(SOLIDIFY))
    invoices = purchases(fan, creator, 6)
    payer = funded_wallet(devnet, trx=100_000_000, trc20=1000 * BTT)
    watchers = [start_watcher_process(tmp_path, devnet.url, name) for name in ("one", "two")]
    try:
        wait_following(devnet)

        # when: the fan pays every invoice, a block every second
        txids = [
            send_btt(devnet, payer, invoice.recipient, invoice.amount_due) for invoice in invoices
        ]
        wait_for(
            lambda: Invoice.objects.filter(state="settled").count() == len(invoices),
            timeout=120,
            what="every invoice settled",
        )
    finally:
        for watcher in watchers:
            assert watcher.process.poll() is None, watcher.output()
            assert watcher.stop() == 0, watcher.output()

    # then
    assert set(Payment.objects.values_list("txid", flat=True)) == set(txids)
    assert_credited_once(invoices, fan)
    assert ChainCursor.objects.count() == 1


def together(*calls: Callable[[], T]) -> list[T]:
    """Run the calls on threads of their own, released at the same instant."""
    gate = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(index: int, call: Callable[[], T]) -> None:
        from django.db import connection

        try:
            gate.wait(timeout=30)
            results[index] = call()
        except BaseException as error:  # handed to the test below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=item) for item in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return results


def test_two_watchers_applying_and_settling_the_same_block_at_once_credit_once(
    devnet_factory: Any, fan: User, creator: Creator
) -> None:
    # given: a block with two payments, read by two watchers before either applies it
    devnet: Devnet = devnet_factory(
        TRON_DEVNET_BLOCK_SECONDS="3600", TRON_DEVNET_SOLIDIFY_BLOCKS=str(SOLIDIFY)
    )
    invoices = purchases(fan, creator, 2)
    payer = funded_wallet(devnet, trx=100_000_000, trc20=1000 * BTT)
    txids = [send_btt(devnet, payer, invoice.recipient, invoice.amount_due) for invoice in invoices]
    included = devnet.mine()["head"]
    assert block_of(devnet, txids[0]) == included
    assert block_of(devnet, txids[1]) == included
    first, second = (Watcher(NodeClient(devnet.url), "devnet") for _ in range(2))
    first.start_from(included)
    scanned = [first.scan(included), second.scan(included)]
    assert all(block is not None and len(block.transfers) == 2 for block in scanned)

    # when: both apply it at the same instant
    outcomes = together(
        lambda: first.apply(scanned[0], solidified=False),  # type: ignore[arg-type]
        lambda: second.apply(scanned[1], solidified=False),  # type: ignore[arg-type]
    )

    # then: one applied it, the other found the cursor moved
    assert sorted(outcome.value for outcome in outcomes) == [
        Applied.APPLIED.value,
        Applied.TAKEN.value,
    ]
    assert ChainCursor.objects.get(network="devnet").head_block == included
    assert Payment.objects.count() == 2
    assert set(Invoice.objects.values_list("state", flat=True)) == {"processing"}

    # when: the block is solidified, and both settle at the same instant
    devnet.mine(SOLIDIFY)
    solid = first.solid_head()
    assert solid >= included
    together(lambda: first.settle(solid), lambda: second.settle(solid))

    # then
    assert_credited_once(invoices, fan)
