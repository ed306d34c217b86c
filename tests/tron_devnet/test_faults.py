"""Faults injected into the devnet (``/devnet/fault``): drops, reverts and the memo fee."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from tronpy.keys import PrivateKey
from tronpy.tron import Transaction

from tests.fixtures.devnet import BTT_TRC20, Devnet, Wallet, funded_wallet
from tests.tron_devnet.tronweb import a_stranger, tronweb


def fault(devnet: Devnet, **payload: Any) -> dict[str, Any]:
    answer: dict[str, Any] = devnet.post("devnet/fault", **payload)
    return answer


def trx_balance(devnet: Devnet, address: str, solid: bool = False) -> int:
    path = "walletsolidity/getaccount" if solid else "wallet/getaccount"
    balance: int = devnet.post(path, address=address, visible=True).get("balance", 0)
    return balance


def btt_balance(devnet: Devnet, address: str) -> int:
    balance: int = devnet.tron().get_contract(BTT_TRC20).functions.balanceOf(address)
    return balance


def trx_transfer(
    devnet: Devnet, sender: Wallet, to: str, amount: int, memo: str = ""
) -> Transaction:
    builder = devnet.tron().trx.transfer(sender.address, to, amount)
    if memo:
        builder = builder.memo(memo)
    signed: Transaction = builder.build().sign(sender.key)
    return signed


def btt_transfer(
    devnet: Devnet, sender: Wallet, to: str, amount: int, memo: str = ""
) -> Transaction:
    builder = (
        devnet.tron()
        .get_contract(BTT_TRC20)
        .functions.transfer(to, amount)
        .with_owner(sender.address)
        .fee_limit(30_000_000)
    )
    if memo:
        builder = builder.memo(memo)
    signed: Transaction = builder.build().sign(sender.key)
    return signed


def broadcast(devnet: Devnet, transaction: Transaction) -> dict[str, Any]:
    """What the node answers to exactly this signed transaction, untouched by tronpy."""
    response = httpx.post(
        f"{devnet.url}/wallet/broadcasttransaction", json=transaction.to_json(), timeout=30
    )
    assert response.status_code == 200
    answer: dict[str, Any] = response.json()
    return answer


def receipt(devnet: Devnet, txid: str) -> dict[str, Any]:
    answer: dict[str, Any] = devnet.post("wallet/gettransactioninfobyid", value=txid)
    return answer


# --- drop ------------------------------------------------------------------------------------


def test_a_dropped_transaction_leaves_its_block_and_its_transfers_are_undone(
    devnet: Devnet,
) -> None:
    # given: a TRX payment to a new account and a TRC-20 payment, in block n (or n and n + 1,
    # when the producer's clock made a block between the two broadcasts)
    alice = funded_wallet(devnet, trx=9_000_000, trc20=10**19)
    bob = a_stranger()
    paid_trx = trx_transfer(devnet, alice, bob, 4_000_000)
    paid_btt = btt_transfer(devnet, alice, bob, 3 * 10**18)
    assert broadcast(devnet, paid_trx)["result"] is True
    assert broadcast(devnet, paid_btt)["result"] is True
    devnet.mine(3)
    n = receipt(devnet, paid_trx.txid)["blockNumber"]
    before = devnet.post("wallet/getblockbynum", num=n)
    child_before = devnet.post("wallet/getblockbynum", num=n + 1)
    listed = [t["txID"] for t in before["transactions"]]
    assert paid_trx.txid in listed
    assert trx_balance(devnet, bob) == 4_000_000
    assert btt_balance(devnet, bob) == 3 * 10**18

    # when: the TRX payment is dropped
    answer = fault(devnet, action="drop", txid=paid_trx.txid)

    # then: gone from the block, the receipts and the state; the block and its children have
    # new IDs, chained as before
    assert "Error" not in answer
    remaining = [txid for txid in listed if txid != paid_trx.txid]
    block = devnet.post("wallet/getblockbynum", num=n)
    child = devnet.post("wallet/getblockbynum", num=n + 1)
    assert [t["txID"] for t in block.get("transactions", [])] == remaining
    assert block["blockID"] != before["blockID"]
    assert (
        block["block_header"]["raw_data"]["timestamp"]
        == (before["block_header"]["raw_data"]["timestamp"])
    )
    assert child["blockID"] != child_before["blockID"]
    assert child["block_header"]["raw_data"]["parentHash"] == block["blockID"]
    assert devnet.post("wallet/gettransactionbyid", value=paid_trx.txid) == {}
    assert receipt(devnet, paid_trx.txid) == {}
    in_block = devnet.post("wallet/gettransactioninfobyblocknum", num=n)
    assert [r["id"] for r in in_block] == remaining
    assert devnet.post("wallet/getaccount", address=bob, visible=True) == {}
    assert trx_balance(devnet, alice.address) == 9_000_000
    assert btt_balance(devnet, bob) == 3 * 10**18  # the other payment stays

    # and: it does not come back when the block solidifies
    devnet.mine(19)
    assert devnet.post("walletsolidity/gettransactioninfobyid", value=paid_trx.txid) == {}
    assert devnet.post("walletsolidity/gettransactioninfobyid", value=paid_btt.txid)["id"] == (
        paid_btt.txid
    )
    assert trx_balance(devnet, alice.address, solid=True) == 9_000_000


def test_a_dropped_trc20_transfer_gives_the_tokens_back(devnet: Devnet) -> None:
    # given
    alice = funded_wallet(devnet, trx=1_000_000, trc20=10**19)
    bob = a_stranger()
    paid = btt_transfer(devnet, alice, bob, 10**19, memo="invoice 9")
    broadcast(devnet, paid)
    devnet.mine()

    # when
    fault(devnet, action="drop", txid=paid.txid)

    # then
    assert receipt(devnet, paid.txid) == {}
    assert btt_balance(devnet, alice.address) == 10**19
    assert btt_balance(devnet, bob) == 0


def test_a_dropped_pending_transaction_never_reaches_a_block_but_may_be_sent_again(
    devnet: Devnet,
) -> None:
    # given: broadcast, not yet in a block
    alice = funded_wallet(devnet, trx=5_000_000)
    bob = a_stranger()
    paid = trx_transfer(devnet, alice, bob, 1_000_000)
    broadcast(devnet, paid)

    # when
    answer = fault(devnet, action="drop", txid=paid.txid)
    devnet.mine()

    # then
    assert "Error" not in answer
    assert receipt(devnet, paid.txid) == {}
    assert trx_balance(devnet, alice.address) == 5_000_000

    # and: the node forgot it, so the wallet's retry goes through
    before = devnet.head()
    assert broadcast(devnet, paid)["result"] is True
    included = devnet.mine()["head"]
    # (in the block mined here, or one the 1 s block producer made first on a slow machine)
    assert before < receipt(devnet, paid.txid)["blockNumber"] <= included
    assert trx_balance(devnet, bob) == 1_000_000


def test_a_solidified_or_unknown_transaction_cannot_be_dropped(devnet: Devnet) -> None:
    # given: a payment 19 blocks deep
    alice = funded_wallet(devnet, trx=5_000_000)
    bob = a_stranger()
    paid = trx_transfer(devnet, alice, bob, 1_000_000)
    broadcast(devnet, paid)
    devnet.mine(20)
    block = devnet.post("wallet/gettransactioninfobyid", value=paid.txid)["blockNumber"]
    block_id = devnet.post("wallet/getblockbynum", num=block)["blockID"]

    # when
    solidified = fault(devnet, action="drop", txid=paid.txid)
    unknown = fault(devnet, action="drop", txid="ab" * 32)

    # then: refused, and nothing changed
    assert solidified == {"Error": f"transaction {paid.txid} is solidified in block {block}"}
    assert unknown == {"Error": f"no transaction {'ab' * 32}"}
    assert devnet.post("wallet/getblockbynum", num=block)["blockID"] == block_id
    assert trx_balance(devnet, bob) == 1_000_000


def test_what_a_later_transaction_spent_cannot_be_dropped_before_it(devnet: Devnet) -> None:
    # given: alice pays bob, bob passes most of it on to carol
    alice = funded_wallet(devnet, trx=5_000_000)
    bob = Wallet(PrivateKey.random())
    carol = a_stranger()
    first = trx_transfer(devnet, alice, bob.address, 3_000_000)
    broadcast(devnet, first)
    devnet.mine()
    second = trx_transfer(devnet, bob, carol, 2_500_000)
    broadcast(devnet, second)
    devnet.mine()

    # when: the first is dropped while the second still spends it
    refused = fault(devnet, action="drop", txid=first.txid)

    # then
    assert refused.keys() == {"Error"}
    assert "drop that one first" in refused["Error"]
    assert trx_balance(devnet, bob.address) == 500_000

    # when: the spending one goes first
    fault(devnet, action="drop", txid=second.txid)
    fault(devnet, action="drop", txid=first.txid)

    # then: as if neither had happened
    assert trx_balance(devnet, alice.address) == 5_000_000
    assert devnet.post("wallet/getaccount", address=bob.address, visible=True) == {}
    assert devnet.post("wallet/getaccount", address=carol, visible=True) == {}


# --- revert ----------------------------------------------------------------------------------


def test_the_next_trc20_transfer_reverts_on_order(devnet: Devnet) -> None:
    # given
    alice = funded_wallet(devnet, trx=1_000_000, trc20=10**19)
    bob = a_stranger()
    ordered = fault(devnet, action="revert_next_trc20")
    assert ordered["revert_next_trc20"] == 1

    # when: TronWeb sends a transfer, then another
    before = devnet.head()
    failed = tronweb(
        devnet, "send_trc20", alice, contract=BTT_TRC20, to=bob, amount=str(10**18), memo="a"
    )
    included = devnet.mine()["head"]
    succeeded = tronweb(devnet, "send_trc20", alice, contract=BTT_TRC20, to=bob, amount="7")
    devnet.mine()

    # then: the first is in a block, reverted, and moved nothing
    assert failed["broadcast"]["result"] is True
    info = receipt(devnet, failed["txid"])
    # (in the block mined here, or one the 1 s block producer made first on a slow machine)
    assert before < info["blockNumber"] <= included
    assert (info["result"], info["receipt"]["result"]) == ("FAILED", "REVERT")
    assert bytes.fromhex(info["resMessage"]).decode() == "REVERT opcode executed"
    assert "log" not in info
    assert devnet.post("wallet/gettransactionbyid", value=failed["txid"])["ret"] == [
        {"contractRet": "REVERT"}
    ]
    assert receipt(devnet, succeeded["txid"])["receipt"]["result"] == "SUCCESS"
    assert btt_balance(devnet, bob) == 7
    assert btt_balance(devnet, alice.address) == 10**19 - 7
    assert devnet.get("devnet/fault")["revert_next_trc20"] == 0  # the order was used up


def test_a_given_txid_reverts_and_others_do_not(devnet: Devnet) -> None:
    # given: two signed transfers; only the first is ordered to revert
    alice = funded_wallet(devnet, trx=1_000_000, trc20=100)
    bob = a_stranger()
    doomed = btt_transfer(devnet, alice, bob, 40)
    fine = btt_transfer(devnet, alice, bob, 25, memo="ok")
    fault(devnet, action="revert", txid=doomed.txid)
    assert devnet.get("devnet/fault")["revert_txids"] == [doomed.txid]

    # when
    broadcast(devnet, fine)
    broadcast(devnet, doomed)
    devnet.mine()

    # then
    assert receipt(devnet, doomed.txid)["receipt"]["result"] == "REVERT"
    assert receipt(devnet, fine.txid)["receipt"]["result"] == "SUCCESS"
    assert btt_balance(devnet, bob) == 25
    assert btt_balance(devnet, alice.address) == 75
    assert devnet.get("devnet/fault")["revert_txids"] == []


# --- memo fee --------------------------------------------------------------------------------


def test_the_memo_fee_charges_the_payer_in_trx_and_shows_in_the_receipt(
    devnet_factory: Callable[..., Devnet],
) -> None:
    # given: a devnet of its own (the fee is chain-wide) with TIP-387's fee switched on
    node = devnet_factory()
    alice = funded_wallet(node, trx=10_000_000, trc20=10**18)
    bob = a_stranger()
    assert fault(node, action="memo_fee", sun=1_000_000)["memo_fee"] == 1_000_000

    # when: a TRX payment with a memo, one without, and a TRC-20 payment with a memo (TronWeb)
    with_memo = trx_transfer(node, alice, bob, 2_000_000, memo="invoice 1")
    without_memo = trx_transfer(node, alice, bob, 1_000_000)
    broadcast(node, with_memo)
    broadcast(node, without_memo)
    btt = tronweb(node, "send_trc20", alice, contract=BTT_TRC20, to=bob, amount="5", memo="i 2")
    node.mine()

    # then: 1 TRX burnt per memo, reported as the receipt's fee
    assert receipt(node, with_memo.txid)["fee"] == 1_000_000
    assert "fee" not in receipt(node, without_memo.txid)
    btt_info = tronweb(node, "receipt", txid=btt["txid"])["info"]
    assert (btt_info["fee"], btt_info["receipt"]["result"]) == (1_000_000, "SUCCESS")
    assert trx_balance(node, alice.address) == 10_000_000 - 2_000_000 - 1_000_000 - 2 * 1_000_000
    assert trx_balance(node, bob) == 3_000_000
    parameters = {p["key"]: p.get("value", 0) for p in node.tron().get_chain_parameters()}
    assert parameters["getMemoFee"] == 1_000_000
    prices = node.get("wallet/getmemofee")["prices"].split(",")
    assert prices[0] == "0:0"
    assert prices[-1].endswith(":1000000")

    # when: the fee is switched off again
    fault(node, action="memo_fee", sun=0)
    free = trx_transfer(node, alice, bob, 1_000_000, memo="invoice 3")
    broadcast(node, free)
    node.mine()

    # then
    assert "fee" not in receipt(node, free.txid)
    assert trx_balance(node, alice.address) == 4_000_000
    assert node.get("wallet/getmemofee")["prices"].endswith(":0")


def test_a_memo_the_payer_cannot_pay_for_is_refused_and_nothing_moves(
    devnet_factory: Callable[..., Devnet],
) -> None:
    # given: a TRC-20 holder without the TRX for the memo fee
    node = devnet_factory()
    alice = funded_wallet(node, trx=500_000, trc20=10**18)
    bob = a_stranger()
    fault(node, action="memo_fee", sun=1_000_000)
    paid = btt_transfer(node, alice, bob, 10**18, memo="invoice 4")

    # when
    answer = broadcast(node, paid)
    node.mine()

    # then: java-tron's refusal for a fee the account cannot pay
    assert answer["code"] == "BANDWITH_ERROR"
    assert bytes.fromhex(answer["message"]).decode() == "Account resource insufficient error."
    assert receipt(node, paid.txid) == {}
    assert trx_balance(node, alice.address) == 500_000
    assert btt_balance(node, alice.address) == 10**18


def test_faults_are_refused_when_malformed(devnet: Devnet) -> None:
    assert fault(devnet, action="explode").keys() == {"Error"}
    assert fault(devnet, action="memo_fee", sun=-1).keys() == {"Error"}
    assert fault(devnet, action="memo_fee", sun=10**9 + 1).keys() == {"Error"}
    assert fault(devnet, action="revert", txid="abcd").keys() == {"Error"}
    assert fault(devnet, action="revert_next_trc20", count=0).keys() == {"Error"}
    assert devnet.get("devnet/fault")["memo_fee"] == 0
