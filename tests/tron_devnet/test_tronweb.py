"""Unmodified TronWeb (npm, run with node) sends TRX, TRC-10 and TRC-20 BTT to the devnet process.

TronWeb 6 re-serialises every transaction the node hands it and compares ``raw_data_hex`` and
the txID byte for byte before signing; the script (tests/tron_devnet/js/tronweb_client.mjs) also
runs that check on the transactions it reads back, and recovers their signer.
"""

from __future__ import annotations

from typing import Any

from tronpy.keys import to_hex_address

from tests.fixtures.devnet import BTT_TRC10, BTT_TRC20, Devnet, Wallet, funded_wallet
from tests.tron_devnet.tronweb import a_stranger, tronweb
from tron_devnet.trc20 import TRANSFER_TOPIC


def assert_read_back(devnet: Devnet, sent: dict[str, Any], owner: Wallet) -> dict[str, Any]:
    """The node's copy of a sent transaction passes TronWeb's checks, head and solidified."""
    txid = sent["txid"]
    devnet.mine()
    unconfirmed = tronweb(devnet, "receipt", txid=txid)
    devnet.mine(19)
    read: dict[str, Any] = tronweb(devnet, "receipt", txid=txid)
    for key in ("transaction", "confirmed_transaction"):
        check = read[f"{key}_check"]
        assert check["raw_data_hex_matches"] is True
        assert check["local_txid"] == txid
        assert check["local_raw_data_hex"] == sent["transaction"]["raw_data_hex"]
        assert check["signer"] == owner.address
        assert read[key]["raw_data"] == sent["transaction"]["raw_data"]
    assert unconfirmed["confirmed_transaction"] is None
    assert unconfirmed["confirmed_info"] == {}
    assert read["info"] == read["confirmed_info"] == unconfirmed["info"]
    assert read["info"]["id"] == txid
    return read


def test_tronweb_sends_trx_with_a_memo_and_reads_the_receipt(devnet: Devnet) -> None:
    # given
    alice = funded_wallet(devnet, trx=40_000_000)
    bob = a_stranger()

    # when: sendTrx, addUpdateData (the memo), sign, sendRawTransaction
    sent = tronweb(devnet, "send_trx", alice, to=bob, amount="12345678", memo="invoice 42")

    # then
    assert sent["calls"] == [
        "POST /wallet/getblock",
        "POST /wallet/getsignweight",
        "POST /wallet/broadcasttransaction",
    ]
    assert sent["broadcast"] == {"result": True, "txid": sent["txid"]}
    assert sent["transaction"]["signature"][0][-2:] in ("1b", "1c", "1B", "1C")  # v = 27/28
    read = assert_read_back(devnet, sent, alice)
    assert read["transaction"]["ret"] == [{"contractRet": "SUCCESS"}]
    assert bytes.fromhex(read["transaction"]["raw_data"]["data"]) == b"invoice 42"
    assert read["info"]["receipt"]["net_usage"] > 0
    assert "fee" not in read["info"]  # the memo fee is off by default
    assert tronweb(devnet, "balances", address=bob)["confirmed_trx"] == "12345678"
    assert tronweb(devnet, "balances", address=alice.address)["trx"] == str(40_000_000 - 12345678)


def test_tronweb_sends_trc10_btt_with_a_memo(devnet: Devnet) -> None:
    # given
    alice = funded_wallet(devnet, trx=1_000_000, trc10=7_000_000)
    bob = a_stranger()

    # when
    sent = tronweb(
        devnet,
        "send_trc10",
        alice,
        to=bob,
        amount="2500000",
        token_id=BTT_TRC10,
        memo="tip for the stream",
    )

    # then
    read = assert_read_back(devnet, sent, alice)
    value = read["transaction"]["raw_data"]["contract"][0]["parameter"]["value"]
    assert bytes.fromhex(value["asset_name"]).decode() == BTT_TRC10
    assert bytes.fromhex(read["transaction"]["raw_data"]["data"]) == b"tip for the stream"
    assert read["transaction"]["ret"] == [{"contractRet": "SUCCESS"}]
    assert tronweb(devnet, "balances", address=bob, token_id=BTT_TRC10)["trc10"] == "2500000"
    assert tronweb(devnet, "balances", address=alice.address, token_id=BTT_TRC10)["trc10"] == (
        "4500000"
    )


def test_tronweb_sends_trc20_btt_with_a_memo_and_reads_the_transfer_log(devnet: Devnet) -> None:
    # given: 20 BTT is 2 * 10**19 base units, past 2**64 and far past JavaScript's 2**53
    alice = funded_wallet(devnet, trx=1_000_000, trc20=20 * 10**18)
    bob = a_stranger()
    amount = 15 * 10**18 + 1

    # when: triggerSmartContract transfer(address,uint256), addUpdateData, sign, send
    sent = tronweb(
        devnet,
        "send_trc20",
        alice,
        contract=BTT_TRC20,
        to=bob,
        amount=str(amount),
        memo="order 7",
        fee_limit=30_000_000,
    )

    # then
    assert sent["calls"] == [
        "POST /wallet/triggersmartcontract",
        "POST /wallet/getsignweight",
        "POST /wallet/broadcasttransaction",
    ]
    read = assert_read_back(devnet, sent, alice)
    assert read["transaction"]["ret"] == [{"contractRet": "SUCCESS"}]
    assert read["transaction"]["raw_data"]["fee_limit"] == 30_000_000
    assert bytes.fromhex(read["transaction"]["raw_data"]["data"]) == b"order 7"
    info = read["info"]
    assert info["receipt"]["result"] == "SUCCESS"
    [log] = info["log"]
    assert log["topics"][0] == TRANSFER_TOPIC.hex()
    assert log["topics"][1][-40:] == to_hex_address(alice.address)[2:]
    assert log["topics"][2][-40:] == to_hex_address(bob)[2:]
    assert int(log["data"], 16) == amount
    balances = tronweb(devnet, "balances", address=bob, contract=BTT_TRC20)
    assert (balances["trc20"], balances["decimals"]) == (str(amount), 18)
    assert tronweb(devnet, "balances", address=alice.address, contract=BTT_TRC20)["trc20"] == str(
        20 * 10**18 - amount
    )


def test_tronweb_contract_at_sends_a_trc20_transfer(devnet: Devnet) -> None:
    # given
    alice = funded_wallet(devnet, trx=1_000_000, trc20=10**18)
    bob = a_stranger()

    # when: the dApp way, contract().at(address) then .transfer(to, amount).send()
    sent = tronweb(
        devnet, "contract_send", alice, contract=BTT_TRC20, to=bob, amount=str(4 * 10**17)
    )
    devnet.mine()

    # then
    assert sent["calls"][:2] == ["GET /wallet/getcontract", "POST /wallet/triggersmartcontract"]
    assert sent["calls"][-1] == "POST /wallet/broadcasttransaction"
    receipt = tronweb(devnet, "receipt", txid=sent["txid"])
    assert receipt["transaction_check"]["raw_data_hex_matches"] is True
    assert receipt["info"]["receipt"]["result"] == "SUCCESS"
    assert tronweb(devnet, "balances", address=bob, contract=BTT_TRC20)["trc20"] == str(4 * 10**17)


def test_tronweb_broadcasts_a_whole_transaction_as_hex(devnet: Devnet) -> None:
    # given
    alice = funded_wallet(devnet, trx=5_000_000)
    bob = a_stranger()

    # when: the signed protobuf Transaction goes to wallet/broadcasthex
    sent = tronweb(devnet, "send_trx_hex", alice, to=bob, amount="1500000")
    devnet.mine()

    # then: java-tron's answer shape, and the node's own JSON of what it received
    assert sent["broadcast"]["result"] is True
    assert (sent["broadcast"]["code"], sent["broadcast"]["message"]) == ("SUCCESS", "")
    assert sent["broadcast"]["txid"] == sent["txid"]
    value = sent["parsed"]["raw_data"]["contract"][0]["parameter"]["value"]
    assert value == {"owner_address": alice.address, "to_address": bob, "amount": 1_500_000}
    assert sent["parsed"]["signature"] == [s.lower() for s in sent["transaction"]["signature"]]
    receipt = tronweb(devnet, "receipt", txid=sent["txid"])
    assert receipt["transaction_check"]["signer"] == alice.address
    assert tronweb(devnet, "balances", address=bob)["trx"] == "1500000"


def test_tronweb_reads_blocks_resources_and_energy_estimates(devnet: Devnet) -> None:
    # given: a holder of TRC-10 and TRC-20 BTT, and the block that paid it
    alice = funded_wallet(devnet, trx=1_000_000, trc10=5)
    paid = devnet.faucet(alice.address, BTT_TRC20, 10**18)
    devnet.mine()
    block = devnet.post("wallet/gettransactioninfobyid", value=paid)["blockNumber"]
    in_block = devnet.post("wallet/getblockbynum", num=block)["transactions"]
    mined = devnet.mine(2)["head"]

    # when
    reads = tronweb(devnet, "reads", address=alice.address, contract=BTT_TRC20, block=block)

    # then
    assert reads["head"] >= mined
    assert max(0, mined - 19) <= reads["confirmed_head"] <= max(0, reads["head"] + 1 - 19)
    assert reads["by_hash"] == block
    assert reads["range"] == [block, block + 1, block + 2]
    assert reads["transaction_count"] == len(in_block) >= 1
    assert reads["bandwidth"] == 600  # free bandwidth, never used up on the devnet
    assert reads["resources"]["assetNetLimit"] == [{"key": BTT_TRC10, "value": 0}]
    assert reads["energy"] == {"result": {"result": True}, "energy_required": 29631}
    assert (reads["contract_name"], reads["symbol"]) == ("BitTorrent", "BTT")
    assert (reads["token"]["id"], reads["token"]["precision"]) == (BTT_TRC10, 6)
    assert reads["energy_prices"] == reads["bandwidth_prices"] == "0:0"
    assert "POST /wallet/getblockbylimitnext" in reads["calls"]
