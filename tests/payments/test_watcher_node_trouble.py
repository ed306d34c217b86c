"""The chain watcher process against a node in trouble: answers that are not java-tron's, cut
connections, the node stopped and started again. It waits and tries again, credits nothing from
what it cannot read, never exits, and settles the payment once the node answers again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from accounts.models import User
from creators.models import Creator
from ledger.models import Grant
from payments.models import ChainCursor, Invoice, Payment
from purchases import services as purchases
from tests.fixtures.devnet import Devnet, funded_wallet
from tests.fixtures.processes import wait_for
from tests.payments.factories import paid_content
from tests.payments.watching import (
    GARBAGE_KINDS,
    NodeProxy,
    WatcherThread,
    block_of,
    creator_with_own_wallet,
    send_btt,
    start_watcher_process,
    state_of,
    wait_following,
    wait_scanned,
)

pytestmark = pytest.mark.django_db(transaction=True)

SOLIDIFY = 3
API_KEY = "0d9a7b3c-5e1f-4a2b-8c6d-7e8f9a0b1c2d"


def test_garbage_cut_connections_and_a_stopped_node_credit_nothing_until_it_answers_again(
    devnet_factory: Any, fan: User, creator: Creator, tmp_path: Path
) -> None:
    # given: a watcher process reading the devnet through a stand-in node, with an API key
    devnet: Devnet = devnet_factory(TRON_DEVNET_SOLIDIFY_BLOCKS=str(SOLIDIFY))
    node = NodeProxy(devnet.url)
    creator_with_own_wallet(creator)
    album = paid_content(creator)
    invoice, _ = purchases.create_purchase_invoice(fan, album)
    payer = funded_wallet(devnet, trx=100_000_000, trc20=200 * 10**18)
    watcher = start_watcher_process(tmp_path, node.url, TRON_API_KEY=API_KEY)
    try:
        wait_following(devnet)

        # when: the node answers garbage of every kind while the fan pays
        node.mode = "garbage"
        txid = send_btt(devnet, payer, invoice.recipient, invoice.amount_due)
        devnet.mine(SOLIDIFY + 1)
        wait_for(lambda: node.garbage_served > GARBAGE_KINDS, timeout=90, what="garbage served")
        # then: nothing credited, still running
        assert (state_of(invoice), Payment.objects.count()) == ("new", 0)
        assert watcher.process.poll() is None, watcher.output()

        # when: blocks come whole but their receipts do not (a backend that lags behind)
        node.mode = "pass"
        node.rewrite = lambda path, answer: [] if path.endswith("infobyblocknum") else answer
        asked = node.seen["wallet/gettransactioninfobyblocknum"]
        wait_for(
            lambda: node.seen["wallet/gettransactioninfobyblocknum"] >= asked + 3,
            timeout=60,
            what="receipts asked for",
        )
        # then: it does not go past the payment's block without them
        assert (state_of(invoice), Payment.objects.count()) == ("new", 0)
        node.rewrite = None

        # when: connections are cut without an answer
        node.mode = "cut"
        cut_at = sum(node.seen.values())
        wait_for(lambda: sum(node.seen.values()) >= cut_at + 3, timeout=60, what="cut calls")
        assert (state_of(invoice), Payment.objects.count()) == ("new", 0)

        # when: the node itself stops (the stand-in answers 502, as a proxy in front would)
        node.mode = "pass"
        devnet.stop()
        down_at = sum(node.seen.values())
        wait_for(lambda: sum(node.seen.values()) >= down_at + 3, timeout=60, what="calls")
        assert (state_of(invoice), Payment.objects.count()) == ("new", 0)
        assert watcher.process.poll() is None, watcher.output()

        # when: it starts again on its chain
        restarted: Devnet = devnet_factory(devnet.state, TRON_DEVNET_SOLIDIFY_BLOCKS=str(SOLIDIFY))
        node.target = restarted.url

        # then: the payment is found in its block and settles
        wait_for(lambda: state_of(invoice) == "settled", timeout=90, what="the invoice settled")
    finally:
        assert watcher.process.poll() is None, watcher.output()
        assert watcher.stop() == 0, watcher.output()
        node.close()

    payment = Payment.objects.get()
    assert (payment.txid, payment.block_number) == (txid, block_of(restarted, txid))
    assert Invoice.objects.get(pk=invoice.pk).amount_paid == invoice.amount_due
    assert Grant.objects.filter(user=fan, content=album).count() == 1
    # Every request carried TronGrid's API key header.
    assert set(node.api_keys) == {API_KEY}
    log = watcher.output()
    assert "not JSON" in log
    assert "HTTP 429" in log
    assert "asked for block" in log  # a block of another number
    assert "no receipt for" in log
    assert "answers again" in log
    assert "Traceback" not in log


@pytest.mark.parametrize("solidify", ["0", "2"], ids=["head-solidified", "head-not-solidified"])
def test_a_node_on_another_chain_than_the_one_scanned_is_refused_not_followed(
    devnet_factory: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture, solidify: str
) -> None:
    # given: a watcher that has scanned a chain whose blocks are solidified at once, or two
    # blocks later (the last blocks scanned are not yet: going back to the solidified one
    # must not follow the other chain from there)
    scanned: Devnet = devnet_factory(
        TRON_DEVNET_BLOCK_SECONDS="3600", TRON_DEVNET_SOLIDIFY_BLOCKS=solidify
    )
    other: Devnet = devnet_factory(
        tmp_path / "other.sqlite3",
        TRON_DEVNET_BLOCK_SECONDS="3600",
        TRON_DEVNET_SOLIDIFY_BLOCKS=solidify,
    )
    other.mine(20)
    scanned.mine(5)
    node = NodeProxy(scanned.url)
    running = WatcherThread.start(node.url)
    try:
        wait_scanned(scanned.mine()["head"])
        last = ChainCursor.objects.get(network="devnet")

        # when: the node behind TRON_API_URL turns out to be another chain (a devnet started
        # afresh, or another network), longer than the one scanned
        node.target = other.url
        wait_for(lambda: "on another chain" in caplog.text, timeout=60, what="the refusal")

        # then: it neither follows it nor goes back over the blocks it scanned
        assert running.thread is not None
        assert running.thread.is_alive()
        now = ChainCursor.objects.get(network="devnet")
        assert (now.head_block, now.head_block_id) == (last.head_block, last.head_block_id)
        assert running.watcher.stats.forks == 0
    finally:
        running.stop()
        node.close()
