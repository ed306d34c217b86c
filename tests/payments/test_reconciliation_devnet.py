"""Reconciliation against the real chain: a fan's wallet (unmodified tronpy) pays a creator more
than the invoice asks, so no invoice matches it; the chain watcher (``manage.py watch_chain``, a
real process) keeps it for finance, two staff members attach it at the same moment through the
reconciliation page, and the invoice settles exactly once when the block is solidified."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from accounts.models import User
from creators.models import Creator
from ledger.models import Grant
from payments.models import Invoice, InvoiceEvent, Payment, UnmatchedTransfer
from purchases import services as purchases
from staff.models import AuditEntry
from tests.fixtures.devnet import Devnet, funded_wallet
from tests.fixtures.processes import wait_for
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


def test_an_unmatched_devnet_transfer_appears_and_attaching_it_twice_at_once_settles_once(
    devnet_factory: Any,
    fan: User,
    creator: Creator,
    finance: User,
    superuser: User,
    tmp_path: Path,
) -> None:
    # given: a devnet that makes blocks only when asked, an invoice, and the watcher
    devnet: Devnet = devnet_factory(
        TRON_DEVNET_BLOCK_SECONDS="3600", TRON_DEVNET_SOLIDIFY_BLOCKS=str(SOLIDIFY)
    )
    creator_with_own_wallet(creator)
    album = paid_content(creator)
    invoice, _ = purchases.create_purchase_invoice(fan, album)
    payer = funded_wallet(devnet, trx=100_000_000, trc20=200 * BTT)
    watcher = start_watcher_process(tmp_path, devnet.url)
    try:
        wait_following(devnet)

        # when: the fan's wallet rounds the amount up by one BTT, and a block is made
        paid = invoice.amount_due + BTT
        txid = send_btt(devnet, payer, invoice.recipient, paid)
        devnet.mine()

        # then: no invoice took it; it is in the finance list
        wait_for(
            lambda: UnmatchedTransfer.objects.filter(txid=txid).exists(),
            timeout=60,
            what="the watcher to keep the unmatched transfer",
        )
        kept = UnmatchedTransfer.objects.get(txid=txid)
        assert (kept.units, kept.sender, kept.recipient, kept.block_number) == (
            paid,
            payer.address,
            invoice.recipient,
            block_of(devnet, txid),
        )
        assert state_of(invoice) == Invoice.State.NEW
        listing = Client()
        listing.force_login(finance)
        page = listing.get("/staff/reconciliation/").content.decode()
        assert f'data-transfer-id="{kept.pk}"' in page

        # when: two staff members attach it to the invoice at the same moment
        start = threading.Barrier(2)
        statuses: list[int] = []

        def attach(user: User) -> None:
            client = Client()
            client.force_login(user)
            try:
                start.wait(timeout=10)
                response = client.post(
                    f"/staff/reconciliation/transfers/{kept.pk}/attach",
                    {"invoice": str(invoice.pk), "note": "rounded up by the wallet"},
                )
                statuses.append(response.status_code)
            finally:
                connection.close()

        threads = [threading.Thread(target=attach, args=(u,)) for u in (finance, superuser)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

        # then: one attach credited it, the other was told; the invoice is paid in full
        assert sorted(statuses) == [302, 409]
        assert state_of(invoice) == Invoice.State.PROCESSING

        # when: the block is solidified
        devnet.mine(SOLIDIFY + 1)

        # then: the watcher settles it, once
        wait_for(
            lambda: state_of(invoice) == Invoice.State.SETTLED,
            timeout=60,
            what="the invoice to settle",
        )
        wait_following(devnet)
    finally:
        assert watcher.process.poll() is None, watcher.output()
        assert watcher.stop() == 0, watcher.output()

    settled = Invoice.objects.get(pk=invoice.pk)
    assert (settled.amount_paid, settled.over, settled.partial) == (paid, True, False)
    payment = Payment.objects.get()
    assert (payment.txid, payment.matched_by, payment.invoice_id) == (
        txid,
        Payment.MatchedBy.STAFF,
        invoice.pk,
    )
    assert payment.solidified_at is not None
    assert list(settled.events.values_list("kind", "to_state")) == [
        (InvoiceEvent.Kind.CREATED, "new"),
        (InvoiceEvent.Kind.PAYMENT, ""),
        (InvoiceEvent.Kind.STATE, "processing"),
        (InvoiceEvent.Kind.SOLIDIFIED, ""),
        (InvoiceEvent.Kind.STATE, "settled"),
    ]
    assert Grant.objects.filter(user=fan, content=album, revoked_at__isnull=True).exists()
    attached = AuditEntry.objects.get(action=AuditEntry.Action.ATTACH)
    assert (attached.target_id, attached.reason) == (str(kept.pk), "rounded up by the wallet")
    assert UnmatchedTransfer.objects.get(pk=kept.pk).state == UnmatchedTransfer.State.ATTACHED
