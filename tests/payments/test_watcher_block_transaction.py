"""A block's transfers are credited in one transaction with the cursor's move past it: a failure
on any of them leaves none credited and publishes nothing, and the next pass credits every one
exactly once; after the commit, every invoice's socket hears its payment and its state."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
import redis
from django.conf import settings
from django.db.transaction import TransactionManagementError
from django.test import Client
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from btt_platform.broadcast import channel_for, publish_now
from creators.models import Creator
from payments import crediting
from payments.chain.node import NodeClient
from payments.chain.verification import ChainTransfer
from payments.chain.watcher import Watcher
from payments.invoices import create_invoice
from payments.models import ChainCursor, Invoice, InvoiceEvent, Payment
from payments.money import Amount, Token
from tests.fixtures.devnet import BTT_TRC20, Devnet
from tests.fixtures.servers import AsgiServer
from tests.fixtures.sockets import heard
from tests.payments.watching import creator_with_own_wallet

pytestmark = pytest.mark.django_db(transaction=True)

TRANSFERS = 60
FAILING = 50  # the transfer whose crediting fails on the first pass
MARKER = "invoice.test-marker"


def tip_invoices(creator: Creator, count: int) -> list[Invoice]:
    price = Amount.parse("100", Token.BTT)
    return [
        create_invoice(kind=Invoice.Kind.TIP, creator=creator, amount=price) for _ in range(count)
    ]


def invoice_socket(server: AsgiServer, cookie: str, invoice: Invoice) -> ClientConnection:
    return connect(
        f"ws://{server.host}:{server.port}/ws/invoice/{invoice.pk}/",
        additional_headers={"Cookie": cookie},
        origin=Origin(server.url),
    )


def published_before_marker(pubsub: Any) -> Iterator[str]:
    """What the invoice channels carried until a marker published now (Redis delivers a
    connection's messages in order, so anything published before it comes first)."""
    publish_now(MARKER, {"type": "marker"})
    while True:
        message = pubsub.get_message(timeout=60)
        if message is None or message["type"] != "pmessage":
            continue
        if message["channel"].decode() == channel_for(MARKER):
            return
        yield message["channel"].decode()


def test_a_failure_on_one_transfer_leaves_the_block_uncredited_and_the_next_pass_credits_all_once(
    devnet_factory: Any, asgi_server: AsgiServer, creator: Creator, monkeypatch: Any
) -> None:
    # given: a block of 60 payments, each of its own invoice, whose pages are all open
    devnet: Devnet = devnet_factory(TRON_DEVNET_BLOCK_SECONDS="3600")
    creator_with_own_wallet(creator)
    invoices = tip_invoices(creator, TRANSFERS)
    txids = [
        devnet.faucet(invoice.recipient, BTT_TRC20, int(invoice.amount_due)) for invoice in invoices
    ]
    block = devnet.mine()["head"]
    watcher = Watcher(NodeClient(devnet.url), "devnet")
    watcher.start_from(block)
    client = Client()
    client.force_login(creator.user)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    listener = redis.Redis.from_url(settings.REDIS_URL).pubsub()  # type: ignore[no-untyped-call]
    listener.psubscribe(channel_for("invoice.*"))
    credited: list[str] = []
    real_record = crediting._record

    def failing_once(transfer: ChainTransfer, *args: Any) -> Any:
        credited.append(transfer.txid)
        if len(credited) == FAILING:
            raise RuntimeError("the database went away")
        return real_record(transfer, *args)

    with ExitStack() as stack:
        sockets = [
            stack.enter_context(invoice_socket(asgi_server, cookie, invoice))
            for invoice in invoices
        ]
        for socket in sockets:
            assert heard(socket)["event"] == "snapshot"

        # when: crediting the 50th transfer fails
        monkeypatch.setattr(crediting, "_record", failing_once)
        with pytest.raises(RuntimeError, match="went away"):
            watcher.step()

        # then: the 49 before it are not credited either, the cursor stays before the block,
        # and no socket was told anything
        assert len(credited) == FAILING
        assert Payment.objects.count() == 0
        assert set(Invoice.objects.values_list("state", "amount_paid")) == {("new", 0)}
        assert not InvoiceEvent.objects.exclude(kind=InvoiceEvent.Kind.CREATED).exists()
        assert ChainCursor.objects.get(network="devnet").head_block == block - 1
        assert list(published_before_marker(listener)) == []

        # when: the next pass
        monkeypatch.setattr(crediting, "_record", real_record)
        watcher.step()

        # then: every transfer credited once, every invoice processing
        assert ChainCursor.objects.get(network="devnet").head_block == block
        assert sorted(Payment.objects.values_list("txid", flat=True)) == sorted(txids)
        for invoice in invoices:
            fresh = Invoice.objects.get(pk=invoice.pk)
            assert (fresh.state, fresh.amount_paid) == ("processing", invoice.amount_due)
            assert list(fresh.events.values_list("kind", "to_state")) == [
                (InvoiceEvent.Kind.CREATED, "new"),
                (InvoiceEvent.Kind.PAYMENT, ""),
                (InvoiceEvent.Kind.STATE, "processing"),
            ]
        # ... published once each, after the commit, in crediting order
        expected = [channel_for(f"invoice.{invoice.pk}") for invoice in invoices for _ in "ps"]
        assert list(published_before_marker(listener)) == expected
        # ... and every page heard its payment, then processing
        for invoice, txid, socket in zip(invoices, txids, sockets, strict=True):
            payment, state = heard(socket), heard(socket)
            assert (payment["event"], payment["id"], payment["txid"]) == (
                "payment",
                str(invoice.pk),
                txid,
            )
            assert (state["event"], state["state"], state["txid"]) == ("state", "processing", txid)
    listener.close()

    # when: the block is scanned again (``--from-block``)
    watcher.start_from(block)
    watcher.step()

    # then: nothing more
    assert Payment.objects.count() == TRANSFERS
    assert InvoiceEvent.objects.filter(kind=InvoiceEvent.Kind.PAYMENT).count() == TRANSFERS
    watcher.node.close()


def test_crediting_a_block_refuses_to_run_outside_a_transaction() -> None:
    with pytest.raises(TransactionManagementError):
        crediting.record_block([], solidified=False)
