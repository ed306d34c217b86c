"""/ws/invoice/<id>/ through the whole ASGI app over real Redis pub/sub: who hears what."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async

from accounts.models import User
from creators.models import Creator
from payments import claims, crediting
from payments.models import Invoice
from tests.fixtures.sockets import connect
from tests.payments.factories import STRANGER_ADDRESS, paying, proven, proven_claim, purchase

pytestmark = pytest.mark.django_db(transaction=True)


def seen(message: dict[str, Any]) -> tuple[str, str, str, str]:
    return message["event"], message["state"], message["amount_paid"], message["txid"]


async def test_payer_and_creator_see_every_change_and_nobody_else_connects(
    fan: User, stranger: User, creator: Creator
) -> None:
    invoice: Invoice = await sync_to_async(purchase)(fan, creator)
    path = f"/ws/invoice/{invoice.pk}/"
    payer, payer_ok, _ = await connect(path, fan)
    owner, owner_ok, _ = await connect(path, creator.user)
    _, stranger_ok, stranger_code = await connect(path, stranger)
    _, anonymous_ok, anonymous_code = await connect(path, None)

    assert (payer_ok, owner_ok) == (True, True)
    assert (stranger_ok, stranger_code) == (False, 4403)
    assert (anonymous_ok, anonymous_code) == (False, 4403)
    for socket in (payer, owner):
        snapshot = await socket.receive_json_from(timeout=5)
        assert snapshot == {
            "type": "invoice",
            "event": "snapshot",
            "id": str(invoice.pk),
            "state": "new",
            "partial": False,
            "over": False,
            "late": False,
            "token": "BTT",
            "amount_due": "100.000001",
            "amount_paid": "0",
            "amount_due_units": "100000001000000000000",
            "amount_paid_units": "0",
            "txid": "",
            "detail": "",
        }

    # when: the payment is seen in a block, then solidified
    transfer = await sync_to_async(proven)(*paying(invoice))
    await sync_to_async(crediting.record_transfer)(transfer, solidified=False)
    await sync_to_async(crediting.record_transfer)(transfer, solidified=True)

    # then: both hear each step, in order, with amounts as strings
    for socket in (payer, owner):
        heard = [seen(await socket.receive_json_from(timeout=5)) for _ in range(3)]
        assert heard == [
            ("payment", "new", "100.000001", transfer.txid),
            ("state", "processing", "100.000001", transfer.txid),
            ("state", "settled", "100.000001", transfer.txid),
        ]
        assert await socket.receive_nothing(timeout=0.3) is True
        await socket.disconnect()


async def test_a_refused_claim_is_heard_by_the_payer(fan: User, creator: Creator) -> None:
    invoice: Invoice = await sync_to_async(purchase)(fan, creator)
    payer, _, _ = await connect(f"/ws/invoice/{invoice.pk}/", fan)
    await payer.receive_json_from(timeout=5)  # the snapshot
    transaction, info = paying(invoice, outcome="REVERT")

    def claim_and_check() -> None:
        claim, _ = proven_claim(fan, invoice, transaction["txID"])
        claims.check_claim(claim.pk, transaction, info, solidified=True)

    await sync_to_async(claim_and_check)()

    message = await payer.receive_json_from(timeout=5)
    assert (message["event"], message["state"], message["txid"]) == (
        "claim_refused",
        "new",
        transaction["txID"],
    )
    assert message["detail"].startswith("failed")
    assert await payer.receive_nothing(timeout=0.3) is True
    await payer.disconnect()


async def test_another_invoice_is_not_heard(fan: User, stranger: User, creator: Creator) -> None:
    mine: Invoice = await sync_to_async(purchase)(fan, creator, "Mine")
    theirs: Invoice = await sync_to_async(purchase)(stranger, creator, "Theirs")
    payer, _, _ = await connect(f"/ws/invoice/{mine.pk}/", fan)
    await payer.receive_json_from(timeout=5)

    transfer = await sync_to_async(proven)(*paying(theirs, sender=STRANGER_ADDRESS))
    await sync_to_async(crediting.record_transfer)(transfer, solidified=True)

    assert await payer.receive_nothing(timeout=0.5) is True
    await payer.disconnect()


async def test_an_unknown_invoice_is_refused_like_a_foreign_one(fan: User) -> None:
    _, connected, code = await connect("/ws/invoice/00000000-0000-4000-8000-000000000000/", fan)

    assert (connected, code) == (False, 4403)
