"""``/devnet/mine`` at a given time: a test that moved the platform clock ahead makes its
payment's block at that time, the pending transfer included, and the chain goes on from there
(timestamps only increase)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.fixtures.devnet import Devnet, funded_wallet, new_address
from tests.payments.watching import send_btt

BTT = 10**18


def timestamp_of(devnet: Devnet, number: int) -> int:
    block: dict[str, Any] = devnet.post("wallet/getblockbynum", num=number)
    stamp: int = block["block_header"]["raw_data"]["timestamp"]
    return stamp


def test_a_block_mined_at_a_later_time_holds_the_pending_transfer_and_later_blocks_follow(
    devnet: Devnet,
) -> None:
    # given: a transfer broadcast now, waiting for a block
    payer = funded_wallet(devnet, trx=100_000_000, trc20=5 * BTT)
    txid = send_btt(devnet, payer, new_address(), BTT)
    month_ahead = datetime.now(UTC) + timedelta(days=33)
    # when: the next block is made a month ahead, and two more after it
    first = devnet.mine(1, at=month_ahead)["head"]
    after = devnet.mine(2)["head"]
    # then: the transfer is in that block, at that time, and the chain went on from there
    assert timestamp_of(devnet, first) == int(month_ahead.timestamp() * 1000)
    assert devnet.post("wallet/gettransactioninfobyid", value=txid)["blockNumber"] == first
    assert timestamp_of(devnet, first) < timestamp_of(devnet, after)
