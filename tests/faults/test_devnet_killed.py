"""``kill -9`` of the TRON devnet just after a fan's wallet broadcast a payment: /healthz/deep
says the node does not answer (the devnet has no heartbeat; cheap /healthz does not probe the
node); supervisor starts it again on its chain file, the payment is mined, and the watcher,
having backed off meanwhile, settles the invoice: credited once, each webhook event delivered
once."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from payments.models import Invoice
from tests.faults.work import (
    api,
    assert_paid_once,
    funded_wallet,
    in_a_block,
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

pytestmark = [pytest.mark.processes, pytest.mark.long]


def node_check(layout: Layout) -> dict[str, object] | None:
    """The TRON node's entry in /healthz/deep."""
    answer = layout.healthz("/healthz/deep")
    if answer is None:
        return None
    check: dict[str, object] = answer[1]["checks"]["tron"]
    return check


def test_a_devnet_killed_mid_payment_mines_it_after_its_restart_and_it_settles_once(
    layout: Layout, receivers: Callable[..., Receiver]
) -> None:
    # given: a creator's release and webhook, and a fan's invoice for it
    creator = new_creator("devnet-maker")
    client = api(layout, creator.user)
    receiver = receivers()
    register_webhook(client, receiver.url)
    release = priced_content(client, creator, "Album")
    fan = make_user("devnet-fan")
    invoice = new_invoice(api(layout, fan), release)
    payer = funded_wallet(layout)

    with layout.restarts_held() as held:
        # when: the fan's wallet broadcasts the payment, and the node is killed -9 at once
        txid = pay(layout, payer, invoice)
        deadline = held.kill("devnet")

        # then: /healthz/deep names the node; cheap /healthz does not probe it
        wait_for(
            lambda: (check := node_check(layout)) is not None and check["ok"] is False,
            timeout=deadline.left(),
            what="/healthz/deep to name the node",
        )
        assert "tron" not in layout.stale()

    # when: supervisor has started it again, then: the payment is in a block, and settles
    wait_for(
        lambda: (check := node_check(layout)) is not None and check["ok"] is True,
        timeout=deadline.left(),
        what="the node to answer again",
    )
    wait_for(lambda: in_a_block(layout, txid), timeout=deadline.left(), what="the payment mined")
    wait_for(
        lambda: Invoice.objects.get(pk=invoice.pk).state == Invoice.State.SETTLED,
        timeout=deadline.left(),
        what="the invoice to settle",
    )
    wait_for(lambda: len(receiver.received) >= 3, timeout=deadline.left(), what="the webhooks")
    done_after = deadline.elapsed()
    layout.wait_healthy(timeout=deadline.left())

    # then: credited once, each event told once
    assert_paid_once(invoice, txid, receiver)
    print(f"devnet killed mid-payment: settled {done_after:.1f} s after the kill")
