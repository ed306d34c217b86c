"""Near misses over /ws/invoice/<id>/ (the whole ASGI app, real Redis pub/sub): who hears of a
transfer that paid nothing, and what they learn of its sender."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async

from accounts import wallets
from accounts.models import User
from creators.models import Creator
from payments import crediting
from payments.models import Invoice, UnmatchedTransfer
from tests.fixtures.sockets import connect
from tests.payments.factories import (
    FAN_ADDRESS,
    FAN_SEED,
    STRANGER_ADDRESS,
    paying,
    proven,
    purchase,
)
from tests.payments.tron_json import signed_by

pytestmark = pytest.mark.django_db(transaction=True)

ROUND = 100 * 10**18  # the album's price without its tag


def _verify_fans_wallet(fan: User) -> None:
    challenge = wallets.wallet_challenge(fan)
    wallets.verify_wallet(fan, FAN_ADDRESS, signed_by(FAN_SEED, challenge))


def _send(invoice: Invoice, units: int, sender: str, seq: int) -> str:
    transfer = proven(*paying(invoice, units, sender=sender, seq=seq))
    assert crediting.record_transfer(transfer, solidified=False) is None
    return transfer.txid


async def test_the_payer_hears_of_their_own_near_miss_and_another_fan_hears_nothing_of_it(
    fan: User, stranger: User, creator: Creator
) -> None:
    # given: two fans with invoices for two albums of one creator (both 100.000001 BTT would
    # clash: the second takes the next tag); the fan verified the wallet that pays
    mine: Invoice = await sync_to_async(purchase)(fan, creator, "One")
    theirs: Invoice = await sync_to_async(purchase)(stranger, creator, "Two")
    await sync_to_async(_verify_fans_wallet)(fan)
    fans, _, _ = await connect(f"/ws/invoice/{mine.pk}/", fan)
    others, _, _ = await connect(f"/ws/invoice/{theirs.pk}/", stranger)
    for socket in (fans, others):
        assert (await socket.receive_json_from(timeout=5))["event"] == "snapshot"

    # when: the fan's wallet sends the round price
    txid = await sync_to_async(_send)(mine, ROUND, FAN_ADDRESS, 1)

    # then: the fan hears it, as theirs, with its txid; the other fan hears nothing
    heard: dict[str, Any] = await fans.receive_json_from(timeout=5)
    kept = await sync_to_async(UnmatchedTransfer.objects.get)(txid=txid)
    assert heard == {
        "type": "near_miss",
        "id": str(mine.pk),
        "key": str(kept.pk),
        "amount": "100",
        "token": "BTT",
        "amount_due": "100.000001",
        "from_payer": True,
        "txid": txid,
    }
    assert await others.receive_nothing(timeout=0.5)

    # when: a wallet nobody here is known to use sends 99.9 BTT
    strangers_txid = await sync_to_async(_send)(mine, 99_900 * 10**15, STRANGER_ADDRESS, 2)

    # then: both fans hear of a transfer, neither learns whose or which
    for socket, invoice in ((fans, mine), (others, theirs)):
        message = await socket.receive_json_from(timeout=5)
        assert (message["id"], message["amount"], message["from_payer"], message["txid"]) == (
            str(invoice.pk),
            "99.9",
            False,
            "",
        )
        assert STRANGER_ADDRESS not in str(message)
        assert strangers_txid not in str(message)

    # when: the fan's page connects again
    await fans.disconnect()
    again, _, _ = await connect(f"/ws/invoice/{mine.pk}/", fan)

    # then: the snapshot, then both near misses, oldest first
    assert (await again.receive_json_from(timeout=5))["event"] == "snapshot"
    first = await again.receive_json_from(timeout=5)
    second = await again.receive_json_from(timeout=5)
    assert [(m["amount"], m["from_payer"]) for m in (first, second)] == [
        ("100", True),
        ("99.9", False),
    ]
    for socket in (again, others):
        await socket.disconnect()
    # and nothing was credited
    paid = await sync_to_async(
        lambda: list(Invoice.objects.order_by("created_at").values_list("amount_paid", flat=True))
    )()
    assert paid == [0, 0]
