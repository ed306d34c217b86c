"""Unmodified tronpy sends TRX, TRC-10 BTT and TRC-20 BTT with memos and reads receipts back."""

from __future__ import annotations

from tronpy.keys import PrivateKey

from tests.fixtures.devnet import BTT_TRC10, BTT_TRC20, Devnet, funded_wallet
from tron_devnet.trc20 import TRANSFER_TOPIC


def test_tronpy_sends_trx_with_a_memo_and_reads_the_receipt(devnet: Devnet) -> None:
    # given
    alice = funded_wallet(devnet, trx=50_000_000)
    bob = PrivateKey.random().public_key.to_base58check_address()
    client = devnet.tron()

    # when
    sent = (
        client.trx.transfer(alice.address, bob, 12_345_678)
        .memo("invoice 42")
        .build()
        .sign(alice.key)
        .broadcast()
    )
    devnet.mine()
    receipt = sent.wait(timeout=30)

    # then
    assert receipt["id"] == sent.txid
    assert receipt["contractResult"] == [""]
    assert receipt["receipt"]["net_usage"] > 0
    transaction = client.get_transaction(sent.txid)
    assert transaction["ret"] == [{"contractRet": "SUCCESS"}]
    assert bytes.fromhex(transaction["raw_data"]["data"]) == b"invoice 42"
    assert transaction["raw_data"]["contract"][0]["parameter"]["value"] == {
        "owner_address": alice.address,
        "to_address": bob,
        "amount": 12_345_678,
    }
    assert client.get_account(bob)["balance"] == 12_345_678
    assert client.get_account(alice.address)["balance"] == 50_000_000 - 12_345_678


def test_tronpy_sends_trc10_btt_with_a_memo(devnet: Devnet) -> None:
    # given
    alice = funded_wallet(devnet, trx=1_000_000, trc10=7_000_000)
    bob = PrivateKey.random().public_key.to_base58check_address()
    client = devnet.tron()

    # when
    sent = (
        client.trx.asset_transfer(alice.address, bob, 2_500_000, int(BTT_TRC10))
        .memo("tip for the stream")
        .build()
        .sign(alice.key)
        .broadcast()
    )
    devnet.mine()
    receipt = sent.wait(timeout=30)

    # then
    assert receipt["id"] == sent.txid
    transaction = client.get_transaction(sent.txid)
    assert transaction["ret"] == [{"contractRet": "SUCCESS"}]
    value = transaction["raw_data"]["contract"][0]["parameter"]["value"]
    assert value["asset_name"] == BTT_TRC10
    assert bytes.fromhex(transaction["raw_data"]["data"]) == b"tip for the stream"
    assert client.get_account_asset_balance(bob, int(BTT_TRC10)) == 2_500_000
    assert client.get_account_asset_balance(alice.address, int(BTT_TRC10)) == 4_500_000
    asset = client.get_asset(int(BTT_TRC10))
    assert (asset["id"], asset["abbr"], asset["precision"]) == (BTT_TRC10, "BTT", 6)


def test_tronpy_sends_trc20_btt_with_a_memo_and_reads_the_transfer_log(devnet: Devnet) -> None:
    # given: 10 BTT is 10**19 base units, already past a 64-bit integer
    alice = funded_wallet(devnet, trx=1_000_000, trc20=10 * 10**18)
    bob = PrivateKey.random().public_key.to_base58check_address()
    client = devnet.tron()
    btt = client.get_contract(BTT_TRC20)
    assert btt.functions.decimals() == 18
    assert btt.functions.balanceOf(alice.address) == 10 * 10**18

    # when
    sent = (
        btt.functions.transfer(bob, 3 * 10**18 + 1)
        .with_owner(alice.address)
        .fee_limit(30_000_000)
        .memo("order 7")
        .build()
        .sign(alice.key)
        .broadcast()
    )
    devnet.mine()
    receipt = sent.wait(timeout=30)

    # then
    assert receipt["receipt"]["result"] == "SUCCESS"
    assert receipt["contract_address"] == BTT_TRC20
    assert sent.result() is True
    [log] = receipt["log"]
    assert log["topics"][0] == TRANSFER_TOPIC.hex()
    assert int(log["data"], 16) == 3 * 10**18 + 1
    [event] = btt.events.Transfer.process_receipt(receipt)
    assert event["args"] == {"from": alice.address, "to": bob, "value": 3 * 10**18 + 1}
    transaction = client.get_transaction(sent.txid)
    assert bytes.fromhex(transaction["raw_data"]["data"]) == b"order 7"
    assert transaction["raw_data"]["fee_limit"] == 30_000_000
    assert btt.functions.balanceOf(bob) == 3 * 10**18 + 1
    assert btt.functions.balanceOf(alice.address) == 7 * 10**18 - 1


def test_a_trc20_transfer_beyond_the_balance_reverts_in_a_block(devnet: Devnet) -> None:
    # given
    alice = funded_wallet(devnet, trx=1_000_000, trc20=5)
    bob = PrivateKey.random().public_key.to_base58check_address()
    client = devnet.tron()
    btt = client.get_contract(BTT_TRC20)

    # when
    sent = (
        btt.functions.transfer(bob, 6)
        .with_owner(alice.address)
        .fee_limit(30_000_000)
        .build()
        .sign(alice.key)
        .broadcast()
    )
    devnet.mine()
    receipt = sent.wait(timeout=30)

    # then: in a block, failed, no Transfer log, nothing moved
    block = devnet.post("wallet/getblockbynum", num=receipt["blockNumber"])
    assert sent.txid in [transaction["txID"] for transaction in block["transactions"]]
    assert receipt["result"] == "FAILED"
    assert receipt["receipt"]["result"] == "REVERT"
    assert receipt["resMessage"] == "REVERT opcode executed"
    assert "log" not in receipt
    assert client.get_transaction(sent.txid)["ret"] == [{"contractRet": "REVERT"}]
    assert btt.functions.balanceOf(alice.address) == 5
    assert btt.functions.balanceOf(bob) == 0


def test_solidified_reads_follow_the_solidified_head(devnet: Devnet) -> None:
    # given: a solidified account, and its payment in the newest block
    alice = funded_wallet(devnet, trx=3_000_000)
    devnet.mine(19)
    bob = PrivateKey.random().public_key.to_base58check_address()
    client = devnet.tron()
    sent = client.trx.transfer(alice.address, bob, 1_000_000).build().sign(alice.key).broadcast()
    included = devnet.mine()["head"]

    # then: the full node has it, the solidified state not yet
    assert client.get_transaction_info(sent.txid)["blockNumber"] == included
    assert devnet.post("walletsolidity/gettransactioninfobyid", value=sent.txid) == {}
    assert devnet.post("walletsolidity/getaccount", address=bob, visible=True) == {}
    solid = devnet.post("walletsolidity/getaccount", address=alice.address, visible=True)
    assert solid["balance"] == 3_000_000

    # when: 19 more blocks are built on it
    devnet.mine(19)

    # then
    assert client.get_solid_transaction_info(sent.txid)["blockNumber"] == included
    assert devnet.post("walletsolidity/getaccount", address=bob, visible=True)["balance"] == (
        1_000_000
    )
    # and the node's solidified head is 19 behind its head, which is the block above or one the
    # devnet made of its own accord since (a block a second, whoever asks)
    node = client.get_node_info()
    head, solidified = (
        int(node[key].split(",")[0].removeprefix("Num:")) for key in ("block", "solidityBlock")
    )
    assert solidified == head - 19
    assert solidified >= included
