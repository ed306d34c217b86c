"""What the chain watcher does with payments that are not what the invoice asked for, each made
with unmodified tronpy on the devnet process and read back through its HTTP API: refused ones
credit and grant nothing; short, over and late ones are recorded and flagged; a payment that
leaves the chain before its block is solidified invalidates the invoice."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import User
from creators.models import Creator
from ledger.models import Grant
from payments import invoices, reconciliation
from payments.chain.node import NodeClient
from payments.chain.watcher import Watcher
from payments.models import Invoice, InvoiceEvent, Payment, UnmatchedTransfer
from purchases import services as purchases
from tests.fixtures.devnet import DEVNET_ENV, Devnet, funded_wallet, launch_devnet, new_address
from tests.fixtures.processes import wait_for
from tests.payments.factories import FIRST_DUE, paid_content
from tests.payments.watching import (
    NodeProxy,
    WatcherThread,
    block_of,
    creator_with_own_wallet,
    cursor_at,
    send_btt,
    send_trc10_btt,
    send_trx,
    signed_btt,
    state_of,
    wait_scanned,
)

pytestmark = pytest.mark.django_db(transaction=True)

SOLIDIFY = int(DEVNET_ENV["TRON_DEVNET_SOLIDIFY_BLOCKS"])
BTT = 10**18
FAKE_BTT = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"  # a real TRC-20 contract (USDT), not BTT


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    """A devnet of this module's that makes blocks only when a test mines them: a test's
    payment is never solidified (and out of reach of a drop) while the machine is slow."""
    folder = tmp_path_factory.mktemp("quiet-devnet")
    node = launch_devnet(folder, folder / "chain.sqlite3", TRON_DEVNET_BLOCK_SECONDS="3600")
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture
def watcher(devnet: Devnet, settings: Any) -> Iterator[WatcherThread]:
    """The watcher loop on a thread, following the module's devnet from its head."""
    settings.TRON_API_URL = devnet.url
    running = WatcherThread.start(devnet.url)
    head = devnet.mine()["head"]
    wait_for(lambda: cursor_at(head), timeout=60, what="the watcher at the head")
    try:
        yield running
    finally:
        running.stop()


def purchase_of(fan: User, creator: Creator) -> tuple[Invoice, Any]:
    creator_with_own_wallet(creator)
    album = paid_content(creator)
    invoice, _ = purchases.create_purchase_invoice(fan, album)
    return invoice, album


def solidify(devnet: Devnet, block: int) -> None:
    """Build enough blocks on ``block`` to solidify it, and wait for the watcher to read them."""
    devnet.mine(SOLIDIFY + 1)
    wait_scanned(block + SOLIDIFY + 1)


def assert_untouched(invoice: Invoice, fan: User, album: Any) -> None:
    now = Invoice.objects.get(pk=invoice.pk)
    assert (now.state, now.amount_paid, now.partial, now.over, now.late) == (
        "new",
        0,
        False,
        False,
        False,
    )
    assert list(now.events.values_list("kind", flat=True)) == [InvoiceEvent.Kind.CREATED]
    assert not Payment.objects.exists()
    assert not Grant.objects.filter(user=fan, content=album).exists()


# --- refused ---------------------------------------------------------------------------------


def test_trc10_btt_or_trx_of_the_amount_credit_nothing_when_trc20_btt_is_due(
    devnet: Devnet, watcher: WatcherThread, fan: User, creator: Creator, settings: Any
) -> None:
    # given: TRC-10 BTT accepted too, so the watcher does look at TRC-10 transfers
    settings.PAYMENTS_TRC10_ENABLED = True
    invoice, album = purchase_of(fan, creator)
    payer = funded_wallet(devnet, trx=500_000_000, trc10=500_000_000)
    same_figure = 100_000_001  # 100.000001 in a 6-decimal token, the invoice's memo too

    # when
    trc10 = send_trc10_btt(devnet, payer, invoice.recipient, same_figure, memo=invoice.memo)
    trx = send_trx(devnet, payer, invoice.recipient, same_figure, memo=invoice.memo)
    devnet.mine()
    solidify(devnet, max(block_of(devnet, trc10), block_of(devnet, trx)))

    # then: the TRC-10 transfer was proven, and paid no invoice; TRX is not even looked at
    assert_untouched(invoice, fan, album)
    assert watcher.watcher.stats.unmatched == 1


def test_a_transfer_log_of_another_token_contract_credits_nothing(
    devnet: Devnet, fan: User, creator: Creator, settings: Any
) -> None:
    # given: a node whose answers show the payment as made by another TRC-20 contract (the
    # devnet runs BTT only, so a stand-in node rewrites the contract in the block and receipt)
    invoice, album = purchase_of(fan, creator)
    payer = funded_wallet(devnet, trx=100_000_000, trc20=200 * BTT)
    node = NodeProxy(devnet.url)
    txid = send_btt(devnet, payer, invoice.recipient, invoice.amount_due, memo=invoice.memo)

    def fake_token(path: str, answer: Any) -> Any:
        if path.endswith("getblockbynum"):
            for tx in answer.get("transactions", []):
                if tx["txID"] == txid:
                    tx["raw_data"]["contract"][0]["parameter"]["value"]["contract_address"] = (
                        FAKE_BTT
                    )
        if path.endswith("gettransactioninfobyblocknum"):
            for info in answer:
                if info["id"] == txid:
                    info["contract_address"] = FAKE_BTT
                    for log in info.get("log", []):
                        log["address"] = FAKE_BTT
        return answer

    node.rewrite = fake_token
    devnet.mine()
    included = block_of(devnet, txid)
    running = WatcherThread.start(node.url, from_block=included - 1)
    try:
        # when
        solidify(devnet, included)
    finally:
        running.stop()
        node.close()

    # then
    assert running.watcher.stats.refused == {"wrong_token": 1}
    assert_untouched(invoice, fan, album)


def test_a_payment_to_another_address_credits_nothing(
    devnet: Devnet, watcher: WatcherThread, fan: User, creator: Creator
) -> None:
    invoice, album = purchase_of(fan, creator)
    payer = funded_wallet(devnet, trx=100_000_000, trc20=200 * BTT)

    # when: the exact amount, with the memo, to someone else
    txid = send_btt(devnet, payer, new_address(), invoice.amount_due, memo=invoice.memo)
    devnet.mine()
    solidify(devnet, block_of(devnet, txid))

    # then
    assert_untouched(invoice, fan, album)


def test_a_reverted_transfer_credits_nothing(
    devnet: Devnet, watcher: WatcherThread, fan: User, creator: Creator
) -> None:
    # given: a fan holding less than the invoice asks for
    invoice, album = purchase_of(fan, creator)
    payer = funded_wallet(devnet, trx=100_000_000, trc20=1 * BTT)

    # when: the transfer reverts, but sits in a block all the same
    txid = send_btt(devnet, payer, invoice.recipient, invoice.amount_due, memo=invoice.memo)
    devnet.mine()
    included = block_of(devnet, txid)
    assert devnet.post("wallet/gettransactioninfobyid", value=txid)["result"] == "FAILED"
    solidify(devnet, included)

    # then
    assert_untouched(invoice, fan, album)


def test_a_transfer_older_than_the_invoice_credits_nothing_when_its_block_is_scanned_again(
    devnet: Devnet, fan: User, creator: Creator
) -> None:
    # given: someone sent the creator exactly what an invoice made two minutes later asks for
    creator_with_own_wallet(creator)
    album = paid_content(creator)
    payer = funded_wallet(devnet, trx=100_000_000, trc20=200 * BTT)
    txid = send_btt(devnet, payer, creator.payout_address, FIRST_DUE.units)
    devnet.mine()
    old = block_of(devnet, txid)
    invoice, _ = purchases.create_purchase_invoice(fan, album)
    assert invoice.amount_due == FIRST_DUE.units
    sent_at = devnet.post("wallet/getblockbynum", num=old)["block_header"]["raw_data"]["timestamp"]
    Invoice.objects.filter(pk=invoice.pk).update(
        created_at=datetime.fromtimestamp(sent_at / 1000, UTC) + timedelta(minutes=2)
    )

    # when: a watcher scans that block again
    running = WatcherThread.start(devnet.url, from_block=old - 1)
    try:
        solidify(devnet, old)
    finally:
        running.stop()

    # then: proven, and paying nothing
    assert running.watcher.stats.unmatched == 1
    assert_untouched(invoice, fan, album)


# --- recorded and flagged ---------------------------------------------------------------------


def test_a_short_payment_is_recorded_as_partial_and_grants_nothing(
    devnet: Devnet, watcher: WatcherThread, fan: User, creator: Creator
) -> None:
    invoice, album = purchase_of(fan, creator)
    payer = funded_wallet(devnet, trx=100_000_000, trc20=200 * BTT)
    short = invoice.amount_due - 1 * BTT

    # when: less than due, with the invoice's memo
    txid = send_btt(devnet, payer, invoice.recipient, short, memo=invoice.memo)
    devnet.mine()
    included = block_of(devnet, txid)
    solidify(devnet, included)
    wait_for(
        lambda: Payment.objects.filter(txid=txid, solidified_at__isnull=False).exists(),
        timeout=60,
        what="the short payment solidified",
    )

    # then
    now = Invoice.objects.get(pk=invoice.pk)
    assert (now.state, now.amount_paid, now.partial, now.over) == ("new", short, True, False)
    payment = Payment.objects.get()
    assert (payment.units, payment.matched_by, payment.block_number) == (short, "memo", included)
    assert not now.events.filter(kind=InvoiceEvent.Kind.STATE).exists()
    assert not Grant.objects.filter(user=fan, content=album).exists()


def test_an_over_payment_settles_flagged_over(
    devnet: Devnet, watcher: WatcherThread, fan: User, creator: Creator
) -> None:
    invoice, album = purchase_of(fan, creator)
    payer = funded_wallet(devnet, trx=100_000_000, trc20=200 * BTT)
    more = invoice.amount_due + 5 * BTT

    # when
    txid = send_btt(devnet, payer, invoice.recipient, more, memo=invoice.memo)
    devnet.mine()
    solidify(devnet, block_of(devnet, txid))
    wait_for(lambda: state_of(invoice) == "settled", timeout=60, what="the invoice settled")

    # then
    now = Invoice.objects.get(pk=invoice.pk)
    assert (now.amount_paid, now.partial, now.over, now.late) == (more, False, True, False)
    assert Payment.objects.get().matched_by == "memo"
    assert Grant.objects.filter(user=fan, content=album, revoked_at__isnull=True).exists()


def test_a_late_payment_is_recorded_flagged_late_and_grants_nothing(
    devnet: Devnet, watcher: WatcherThread, fan: User, creator: Creator
) -> None:
    # given: an invoice that expired before the fan paid
    invoice, album = purchase_of(fan, creator)
    Invoice.objects.filter(pk=invoice.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert invoices.expire_invoices() == 1
    payer = funded_wallet(devnet, trx=100_000_000, trc20=200 * BTT)

    # when: the exact amount arrives anyway
    txid = send_btt(devnet, payer, invoice.recipient, invoice.amount_due)
    devnet.mine()
    solidify(devnet, block_of(devnet, txid))
    wait_for(
        lambda: Payment.objects.filter(txid=txid, solidified_at__isnull=False).exists(),
        timeout=60,
        what="the late payment solidified",
    )

    # then: recognised by its unique amount, recorded, flagged, not granted
    now = Invoice.objects.get(pk=invoice.pk)
    assert (now.state, now.amount_paid, now.late, now.partial) == (
        "expired",
        invoice.amount_due,
        True,
        False,
    )
    payment = Payment.objects.get()
    assert (payment.late, payment.matched_by) == (True, "amount")
    assert not Grant.objects.filter(user=fan, content=album).exists()


# --- dropped --------------------------------------------------------------------------------


def test_a_fork_solidified_before_the_next_block_is_read_is_scanned_again_not_refused(
    devnet: Devnet, fan: User, creator: Creator, settings: Any
) -> None:
    # given: a watcher, stepped by hand, that has read the block holding the fan's payment
    settings.TRON_API_URL = devnet.url
    watcher = Watcher(NodeClient(devnet.url), "devnet", poll_seconds=0.05)
    watcher.start_from(devnet.mine()["head"] + 1)
    invoice, _ = purchase_of(fan, creator)
    payer = funded_wallet(devnet, trx=100_000_000, trc20=200 * BTT)
    txid = send_btt(devnet, payer, invoice.recipient, invoice.amount_due)
    included = devnet.mine()["head"]
    while watcher.cursor().head_block < included:
        watcher.step()
    assert state_of(invoice) == "processing"

    # when: the transaction leaves the chain (that block gets a new ID) and the block is
    # solidified before the watcher reads the one after it: it settles first
    devnet.post("devnet/fault", action="drop", txid=txid)
    devnet.mine(SOLIDIFY + 1)
    watcher.settle(watcher.solid_head())
    # then: it scans the changed blocks again (no "another chain" refusal) and the invoice
    # turns invalid
    while watcher.cursor().head_block < included + SOLIDIFY + 1:
        watcher.step()
    assert state_of(invoice) == "invalid"
    assert watcher.stats.forks == 1


def test_a_payment_dropped_before_solidification_invalidates_the_invoice_and_its_early_grant(
    devnet: Devnet, watcher: WatcherThread, fan: User, creator: Creator, settings: Any
) -> None:
    # given: purchases this small grant at the first confirmation
    settings.PAYMENTS_INSTANT_GRANT_UNITS = {"BTT": 1000 * BTT}
    invoice, album = purchase_of(fan, creator)
    payer = funded_wallet(devnet, trx=100_000_000, trc20=200 * BTT)
    txid = send_btt(devnet, payer, invoice.recipient, invoice.amount_due)
    devnet.mine()
    included = block_of(devnet, txid)
    wait_for(lambda: state_of(invoice) == "processing", timeout=60, what="processing")
    assert Grant.objects.filter(user=fan, content=album, revoked_at__isnull=True).exists()

    # when: the transaction leaves the chain (its block and the ones after get new IDs)
    assert devnet.post("devnet/fault", action="drop", txid=txid)["head"] >= included
    solidify(devnet, included)
    wait_for(lambda: state_of(invoice) == "invalid", timeout=60, what="the invoice invalid")

    # then: nothing counts, the grant is taken back, and the watcher saw the chain change
    now = Invoice.objects.get(pk=invoice.pk)
    assert (now.amount_paid, now.txids()) == (0, [])
    payment = Payment.objects.get(txid=txid)
    assert (payment.dropped_at is not None, payment.solidified_at) == (True, None)
    assert not Grant.objects.filter(user=fan, content=album, revoked_at__isnull=True).exists()
    assert list(now.events.values_list("kind", "to_state")) == [
        (InvoiceEvent.Kind.CREATED, "new"),
        (InvoiceEvent.Kind.PAYMENT, ""),
        (InvoiceEvent.Kind.STATE, "processing"),
        (InvoiceEvent.Kind.DROPPED, ""),
        (InvoiceEvent.Kind.STATE, "invalid"),
    ]
    assert watcher.watcher.stats.forks >= 1


def test_a_dropped_payment_sent_again_settles_with_its_new_block(
    devnet: Devnet, watcher: WatcherThread, fan: User, creator: Creator
) -> None:
    # given: a payment seen in a block, which then leaves the chain
    invoice, album = purchase_of(fan, creator)
    payer = funded_wallet(devnet, trx=100_000_000, trc20=200 * BTT)
    signed = signed_btt(devnet, payer, invoice.recipient, invoice.amount_due)
    txid = signed.broadcast().txid
    devnet.mine()
    first = block_of(devnet, txid)
    wait_for(lambda: state_of(invoice) == "processing", timeout=60, what="processing")
    devnet.post("devnet/fault", action="drop", txid=txid)

    # when: the wallet sends the same signed transaction again, and it lands in a later block
    signed.broadcast()
    devnet.mine()
    again = block_of(devnet, txid)
    solidify(devnet, again)
    wait_for(lambda: state_of(invoice) == "settled", timeout=60, what="the invoice settled")

    # then: it never counted twice, nor stopped counting
    assert again > first
    now = Invoice.objects.get(pk=invoice.pk)
    assert now.amount_paid == invoice.amount_due
    payment = Payment.objects.get()
    assert (payment.dropped_at, payment.block_number) == (None, again)
    assert list(now.events.values_list("kind", "to_state")) == [
        (InvoiceEvent.Kind.CREATED, "new"),
        (InvoiceEvent.Kind.PAYMENT, ""),
        (InvoiceEvent.Kind.STATE, "processing"),
        (InvoiceEvent.Kind.SOLIDIFIED, ""),
        (InvoiceEvent.Kind.STATE, "settled"),
    ]
    assert Grant.objects.filter(user=fan, content=album, revoked_at__isnull=True).exists()


# --- transfers kept for finance ----------------------------------------------------------------


def kept(txid: str, until: Callable[[UnmatchedTransfer], bool], what: str) -> UnmatchedTransfer:
    """The transfer the watcher kept for finance, once ``until`` holds for it."""

    def found() -> UnmatchedTransfer | None:
        row = UnmatchedTransfer.objects.filter(txid=txid).first()
        return row if row is not None and until(row) else None

    wait_for(found, timeout=60, what=what)
    row = found()
    assert row is not None
    return row


def test_a_transfer_kept_for_finance_is_marked_solidified_with_its_block(
    devnet: Devnet, watcher: WatcherThread, fan: User, creator: Creator
) -> None:
    # given: a payment one BTT over any invoice's amount, seen in a block not yet solidified
    invoice, _ = purchase_of(fan, creator)
    payer = funded_wallet(devnet, trx=100_000_000, trc20=200 * BTT)
    txid = send_btt(devnet, payer, invoice.recipient, invoice.amount_due + BTT)
    devnet.mine()
    included = block_of(devnet, txid)
    assert kept(txid, lambda _: True, "the transfer kept for finance").solidified_at is None

    # when
    solidify(devnet, included)

    # then: finance sees it solidified, still theirs to handle
    kept(txid, lambda row: row.solidified_at is not None, "the kept transfer solidified")
    assert reconciliation.open_transfers().filter(txid=txid).exists()
    assert state_of(invoice) == "new"


def test_a_transfer_kept_for_finance_that_leaves_the_chain_cannot_be_attached_until_back(
    devnet: Devnet, watcher: WatcherThread, fan: User, creator: Creator, finance: User
) -> None:
    # given: an unmatched transfer seen in a block, which then leaves the chain
    invoice, _ = purchase_of(fan, creator)
    payer = funded_wallet(devnet, trx=100_000_000, trc20=200 * BTT)
    signed = signed_btt(devnet, payer, invoice.recipient, invoice.amount_due + BTT)
    txid = signed.broadcast().txid
    devnet.mine()
    included = block_of(devnet, txid)
    kept(txid, lambda _: True, "the transfer kept for finance")
    devnet.post("devnet/fault", action="drop", txid=txid)

    # when: the block it was in is solidified without it (exactly that many blocks: the
    # wallet's transaction refers to a block that must stay within the TaPoS window)
    devnet.mine(SOLIDIFY)
    wait_scanned(included + SOLIDIFY)

    # then: it is marked dropped, off the finance list, and cannot be credited to anyone
    gone = kept(txid, lambda row: row.state == "dropped", "the kept transfer dropped")
    assert (gone.dropped_at is not None, gone.solidified_at) == (True, None)
    assert not reconciliation.open_transfers().filter(txid=txid).exists()
    with pytest.raises(reconciliation.ReconciliationRefused, match="never received"):
        reconciliation.attach_transfer(finance, gone.pk, str(invoice.pk))
    assert not Payment.objects.exists()
    assert state_of(invoice) == "new"

    # when: the wallet sends the same signed transaction again, into a later block
    signed.broadcast()
    devnet.mine()
    again = block_of(devnet, txid)

    # then: it is finance's again, in its new block, and solidifies with it
    back = kept(txid, lambda row: row.state == "open", "the kept transfer open again")
    assert (back.block_number, back.dropped_at) == (again, None)
    solidify(devnet, again)
    kept(txid, lambda row: row.solidified_at is not None, "the kept transfer solidified")
