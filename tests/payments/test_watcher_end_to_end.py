"""A fan pays with unmodified tronpy; the chain watcher (``manage.py watch_chain``, a real
process) finds the transfer in its block, the invoice turns processing, then settled once the
block is solidified, and the fan's ``/ws/invoice/<id>/`` socket hears each step in order."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from accounts.models import User
from creators.models import Creator
from ledger.models import Grant
from payments.models import ChainCursor, Invoice, InvoiceEvent, Payment
from purchases import services as purchases
from tests.fixtures.devnet import Devnet, funded_wallet
from tests.fixtures.processes import wait_for
from tests.fixtures.servers import AsgiServer
from tests.fixtures.sockets import heard
from tests.payments.factories import paid_content
from tests.payments.watching import (
    block_of,
    creator_with_own_wallet,
    send_btt,
    start_watcher_process,
    state_of,
    wait_following,
)

pytestmark = pytest.mark.django_db(transaction=True)

SOLIDIFY = 3
BTT = 10**18


def invoice_socket(server: AsgiServer, user: User, invoice: Invoice) -> ClientConnection:
    client = Client()
    client.force_login(user)
    return connect(
        f"ws://{server.host}:{server.port}/ws/invoice/{invoice.pk}/",
        additional_headers={"Cookie": f"sessionid={client.cookies['sessionid'].value}"},
        origin=Origin(server.url),
    )


def step(message: dict[str, Any]) -> tuple[str, str, str]:
    return message["event"], message["state"], message["txid"]


def test_an_exact_payment_is_processing_in_its_block_then_settled_and_the_socket_hears_it(
    devnet_factory: Any, asgi_server: AsgiServer, fan: User, creator: Creator, tmp_path: Path
) -> None:
    # given: a devnet that makes blocks only when asked, so "within one block" is exact
    devnet: Devnet = devnet_factory(
        TRON_DEVNET_BLOCK_SECONDS="3600", TRON_DEVNET_SOLIDIFY_BLOCKS=str(SOLIDIFY)
    )
    creator_with_own_wallet(creator)
    album = paid_content(creator)
    invoice, _ = purchases.create_purchase_invoice(fan, album)
    payer = funded_wallet(devnet, trx=100_000_000, trc20=200 * BTT)
    watcher = start_watcher_process(tmp_path, devnet.url)
    # The fan's page is open from the start, as it would be: its socket stays quiet while the
    # watcher starts and the wallet signs.
    with invoice_socket(asgi_server, fan, invoice) as socket:
        try:
            assert step(heard(socket)) == ("snapshot", "new", "")
            wait_following(devnet)

            # when: the fan's wallet pays the exact amount, and one block is made
            txid = send_btt(devnet, payer, invoice.recipient, invoice.amount_due)
            included = devnet.mine()["head"]

            # then: processing, with no other block made since the payment's
            assert step(heard(socket)) == ("payment", "new", txid)
            processing = heard(socket)
            assert step(processing) == ("state", "processing", txid)
            assert processing["amount_paid_units"] == str(invoice.amount_due)
            assert devnet.head() == included == block_of(devnet, txid)
            assert not Grant.objects.filter(user=fan, content=album).exists()

            # when: the block is solidified
            devnet.mine(SOLIDIFY)

            # then
            assert step(heard(socket)) == ("state", "settled", txid)
            with pytest.raises(TimeoutError):
                socket.recv(timeout=1)
        finally:
            assert watcher.process.poll() is None, watcher.output()
            assert watcher.stop() == 0, watcher.output()

    settled = Invoice.objects.get(pk=invoice.pk)
    assert (settled.state, settled.amount_paid, settled.partial, settled.over, settled.late) == (
        "settled",
        invoice.amount_due,
        False,
        False,
        False,
    )
    assert settled.payer_address == payer.address
    payment = Payment.objects.get()
    assert (payment.txid, payment.log_index, payment.block_number, payment.matched_by) == (
        txid,
        0,
        included,
        "amount",
    )
    assert payment.solidified_at is not None
    assert Grant.objects.filter(user=fan, content=album, revoked_at__isnull=True).exists()
    assert list(settled.events.values_list("kind", "to_state")) == [
        (InvoiceEvent.Kind.CREATED, "new"),
        (InvoiceEvent.Kind.PAYMENT, ""),
        (InvoiceEvent.Kind.STATE, "processing"),
        (InvoiceEvent.Kind.SOLIDIFIED, ""),
        (InvoiceEvent.Kind.STATE, "settled"),
    ]
    assert ChainCursor.objects.get(network="devnet").head_block >= included + SOLIDIFY


def test_a_payment_made_while_the_watcher_is_down_is_credited_once_after_a_restart(
    devnet_factory: Any, fan: User, creator: Creator, tmp_path: Path
) -> None:
    # given: a watcher following a devnet that makes a block every second, then killed
    devnet: Devnet = devnet_factory(TRON_DEVNET_SOLIDIFY_BLOCKS=str(SOLIDIFY))
    creator_with_own_wallet(creator)
    album = paid_content(creator)
    invoice, _ = purchases.create_purchase_invoice(fan, album)
    payer = funded_wallet(devnet, trx=100_000_000, trc20=200 * BTT)
    first = start_watcher_process(tmp_path, devnet.url, "first")
    wait_following(devnet)
    first.stop(signal.SIGKILL)
    stopped_at = ChainCursor.objects.get(network="devnet").head_block

    # when: the fan pays while it is down, and the block is solidified before it is back
    txid = send_btt(devnet, payer, invoice.recipient, invoice.amount_due)
    included = block_of(devnet, txid)
    devnet.mine(SOLIDIFY)
    assert state_of(invoice) == "new"
    second = start_watcher_process(tmp_path, devnet.url, "second")
    try:
        # then: it goes on from its cursor, and the payment settles at once
        wait_for(lambda: state_of(invoice) == "settled", timeout=90, what="the invoice settled")
    finally:
        assert second.stop() == 0, second.output()
    assert included > stopped_at

    # when: a third run scans those blocks again from before the payment
    third = start_watcher_process(
        tmp_path, devnet.url, "third", "--from-block", str(included - 2), "--until-caught-up"
    )
    assert third.process.wait(timeout=90) == 0, third.output()

    # then: the transfer was credited once, and the invoice moved once
    assert Payment.objects.filter(txid=txid).count() == 1
    assert Payment.objects.count() == 1
    settled = Invoice.objects.get(pk=invoice.pk)
    assert settled.amount_paid == invoice.amount_due
    assert list(settled.events.values_list("kind", "to_state")) == [
        (InvoiceEvent.Kind.CREATED, "new"),
        (InvoiceEvent.Kind.PAYMENT, ""),
        (InvoiceEvent.Kind.STATE, "processing"),
        (InvoiceEvent.Kind.SOLIDIFIED, ""),
        (InvoiceEvent.Kind.STATE, "settled"),
    ]
    assert Grant.objects.filter(user=fan, content=album).count() == 1
