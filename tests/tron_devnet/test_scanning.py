"""What a chain scanner reads from the devnet: one block of 100 transfers, whole, with receipts.

A watcher reads ``getblockbynum`` (every transaction of the block) and
``gettransactioninfobyblocknum`` (every receipt, with the TRC-20 logs), from ``wallet/`` for
the head and ``walletsolidity/`` once the block is solidified. Both must list all of a block's
transactions, in the block's order, and agree with each other and with the block header.
"""

from __future__ import annotations

import hashlib
import itertools
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
from tronpy.keys import to_base58check_address
from tronpy.tron import Transaction

from tests.fixtures.devnet import BTT_TRC10, BTT_TRC20, Devnet, Wallet, funded_wallet
from tests.tron_devnet.tronweb import a_stranger
from tron_devnet.protocol.blocks import merkle_root
from tron_devnet.protocol.transaction_json import transaction_from_json
from tron_devnet.protocol.transactions import SignedTransaction
from tron_devnet.trc20 import TRANSFER_TOPIC

TRANSFERS = 100
REVERTED = 5  # of the TRC-20 transfers, by /devnet/fault


def build_transfers(node: Devnet, payers: list[Wallet], creators: list[str]) -> list[Transaction]:
    """100 signed payments built by tronpy: TRX, TRC-10 and TRC-20, some with memos."""
    client = node.tron()
    btt = client.get_contract(BTT_TRC20)
    built = []
    for i, payer, creator in zip(
        range(TRANSFERS), itertools.cycle(payers), itertools.cycle(creators), strict=False
    ):
        kind = i % 3
        if kind == 0:
            builder = client.trx.transfer(payer.address, creator, 1_000 + i)
        elif kind == 1:
            builder = client.trx.asset_transfer(payer.address, creator, 2_000 + i, int(BTT_TRC10))
        else:
            builder = (
                btt.functions.transfer(creator, 10**18 + i)
                .with_owner(payer.address)
                .fee_limit(30_000_000)
            )
        if i % 4 == 0:
            builder = builder.memo(f"invoice {i}")
        built.append(builder.build().sign(payer.key))
    return built


def read(node: Devnet, path: str, **params: Any) -> Any:
    response = httpx.post(f"{node.url}/{path}", json=params, timeout=60)
    assert response.status_code == 200
    return response.json()


def test_a_block_of_100_transfers_reads_whole_from_the_head_and_once_solidified(
    devnet_factory: Callable[..., Devnet],
) -> None:
    # given: a devnet whose producer stays quiet, so that one mined block holds all 100
    node = devnet_factory(TRON_DEVNET_BLOCK_SECONDS="600")
    payers = [
        funded_wallet(node, trx=10_000_000, trc10=10_000_000, trc20=100 * 10**18) for _ in range(4)
    ]
    creators = [a_stranger() for _ in range(5)]
    transfers = build_transfers(node, payers, creators)
    node.post("devnet/fault", action="revert_next_trc20", count=REVERTED)
    for transfer in transfers:
        assert read(node, "wallet/broadcasttransaction", **transfer.to_json())["result"] is True

    # when: one block takes them all
    n = node.mine()["head"]

    # then: the head's block lists every transaction, in broadcast order, intact
    block = read(node, "wallet/getblockbynum", num=n, visible=True)
    listed = block["transactions"]
    assert [t["txID"] for t in listed] == [t.txid for t in transfers]
    signed: list[SignedTransaction] = []
    for entry in listed:
        assert hashlib.sha256(bytes.fromhex(entry["raw_data_hex"])).hexdigest() == entry["txID"]
        parsed = transaction_from_json(entry, visible=True)
        assert parsed.raw.encode().hex() == entry["raw_data_hex"]
        signed.append(
            SignedTransaction(parsed.raw, parsed.signatures, entry["ret"][0]["contractRet"])
        )
    leaves = [hashlib.sha256(transaction.encode()).digest() for transaction in signed]
    assert block["block_header"]["raw_data"]["txTrieRoot"] == merkle_root(leaves).hex()
    results = Counter(t["ret"][0]["contractRet"] for t in listed)
    assert results == {"SUCCESS": TRANSFERS - REVERTED, "REVERT": REVERTED}

    # and: a receipt for each, in the same order, the TRC-20 ones with their Transfer logs
    receipts = read(node, "wallet/gettransactioninfobyblocknum", num=n, visible=True)
    assert [r["id"] for r in receipts] == [t.txid for t in transfers]
    assert {r["blockNumber"] for r in receipts} == {n}
    assert len({r["blockTimeStamp"] for r in receipts}) == 1
    paid: Counter[tuple[str, str]] = Counter()
    for entry, info in zip(listed, receipts, strict=True):
        contract = entry["raw_data"]["contract"][0]
        value = contract["parameter"]["value"]
        if contract["type"] == "TransferContract":
            paid["TRX", value["to_address"]] += value["amount"]
        elif contract["type"] == "TransferAssetContract":
            assert value["asset_name"] == BTT_TRC10
            paid[BTT_TRC10, value["to_address"]] += value["amount"]
        elif info["receipt"]["result"] == "SUCCESS":
            [log] = info["log"]
            assert log["address"] == BTT_TRC20
            assert log["topics"][0] == TRANSFER_TOPIC.hex()
            paid[BTT_TRC20, to_base58check_address("41" + log["topics"][2][-40:])] += int(
                log["data"], 16
            )
        else:
            assert (info["result"], "log" in info) == ("FAILED", False)
    expected: Counter[tuple[str, str]] = Counter()
    for i, creator in zip(range(TRANSFERS), itertools.cycle(creators), strict=False):
        token, amount = [("TRX", 1_000 + i), (BTT_TRC10, 2_000 + i), (BTT_TRC20, 10**18 + i)][i % 3]
        expected[token, creator] += amount
    reverted = [
        (i, creator)
        for i, creator in zip(range(TRANSFERS), itertools.cycle(creators), strict=False)
        if i % 3 == 2
    ][:REVERTED]
    for i, creator in reverted:
        expected[BTT_TRC20, creator] -= 10**18 + i
    assert paid == +expected

    # and: the block-range read gives the same block
    ranged = read(node, "wallet/getblockbylimitnext", startNum=n, endNum=n + 1, visible=True)
    assert ranged == {"block": [block]}

    # when: not yet solidified, walletsolidity has neither
    assert read(node, "walletsolidity/getblockbynum", num=n, visible=True) == {}
    assert read(node, "walletsolidity/gettransactioninfobyblocknum", num=n, visible=True) == []
    node.mine(19)

    # then: once solidified, walletsolidity answers exactly what the head did, in both encodings
    for visible in (True, False):
        head_block = read(node, "wallet/getblockbynum", num=n, visible=visible)
        head_receipts = read(node, "wallet/gettransactioninfobyblocknum", num=n, visible=visible)
        assert read(node, "walletsolidity/getblockbynum", num=n, visible=visible) == head_block
        assert (
            read(node, "walletsolidity/gettransactioninfobyblocknum", num=n, visible=visible)
            == head_receipts
        )
        assert len(head_block["transactions"]) == len(head_receipts) == TRANSFERS
    assert read(node, "walletsolidity/getblockbynum", num=n, visible=True) == block
