"""``kill -9`` of the chain watcher while an invoice is being paid (its payment in a block, not
yet solidified): /healthz names it; supervisor starts it again; it carries on from its cursor
and settles the invoice, credited once, each webhook event delivered once."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from payments.models import Invoice
from tests.faults.work import (
    api,
    assert_paid_once,
    funded_wallet,
    new_creator,
    new_invoice,
    pay,
    priced_content,
    register_webhook,
)
from tests.fixtures.layout import Layout
from tests.fixtures.personas import make_user
from tests.fixtures.processes import wait_for
from tests.fixtures.webhooks import Receiver
from tests.payments.watching import state_of

pytestmark = [pytest.mark.processes, pytest.mark.long]


def test_a_watcher_killed_mid_payment_settles_it_once_after_its_restart(
    layout: Layout, receivers: Callable[..., Receiver]
) -> None:
    # given: a creator's release and webhook, and a fan's invoice for it, paid from their wallet
    creator = new_creator("watcher-maker")
    client = api(layout, creator.user)
    receiver = receivers()
    register_webhook(client, receiver.url)
    release = priced_content(client, creator, "Album")
    fan = make_user("watcher-fan")
    invoice = new_invoice(api(layout, fan), release)
    txid = pay(layout, funded_wallet(layout), invoice)

    # and: the watcher has credited it in its block
    wait_for(lambda: state_of(invoice) == Invoice.State.PROCESSING, timeout=60, what="processing")

    with layout.restarts_held() as held:
        # when: the watcher is killed -9 before the block is solidified
        deadline = held.kill("watcher")

        # then: /healthz names it
        wait_for(
            lambda: "watcher" in layout.stale(),
            timeout=deadline.left(),
            what="/healthz to name the watcher",
        )
        assert state_of(invoice) == Invoice.State.PROCESSING

    # when: supervisor has started it again, then: the invoice settles
    wait_for(
        lambda: state_of(invoice) == Invoice.State.SETTLED,
        timeout=deadline.left(),
        what="the invoice to settle",
    )
    wait_for(lambda: len(receiver.received) >= 3, timeout=deadline.left(), what="the webhooks")
    done_after = deadline.elapsed()
    layout.wait_healthy(timeout=deadline.left())

    # then: credited once, each event told once
    assert_paid_once(invoice, txid, receiver)
    print(f"watcher killed mid-payment: settled {done_after:.1f} s after the kill")
