"""java-tron's HTTP conventions on the devnet: GET and POST, visible, {} and Error objects."""

from __future__ import annotations

import hashlib
import itertools
import time
from collections.abc import Callable

import httpx
from tronpy.keys import PrivateKey

from tests.fixtures.devnet import BTT_TRC20, Devnet, funded_wallet
from tests.fixtures.processes import wait_for


def test_get_with_a_query_string_answers_like_post_with_json(devnet: Devnet) -> None:
    alice = funded_wallet(devnet, trx=2_000_000)
    txid = devnet.faucet(alice.address, "TRX", 1)
    devnet.mine()

    assert devnet.get("wallet/getblockbynum", num=1) == devnet.post("wallet/getblockbynum", num=1)
    assert devnet.get("wallet/gettransactionbyid", value=txid) == devnet.post(
        "wallet/gettransactionbyid", value=txid
    )
    assert devnet.get("wallet/getaccount", address=alice.address, visible="true") == (
        devnet.post("wallet/getaccount", address=alice.address, visible=True)
    )


def test_not_found_is_an_empty_object_with_http_200(devnet: Devnet) -> None:
    nobody = PrivateKey.random().public_key.to_base58check_address()

    assert devnet.post("wallet/gettransactionbyid", value="ab" * 32) == {}
    assert devnet.post("wallet/gettransactioninfobyid", value="ab" * 32) == {}
    assert devnet.post("wallet/getblockbynum", num=10**9) == {}
    assert devnet.post("wallet/getblockbyid", value="00" * 32) == {}
    assert devnet.post("wallet/getaccount", address=nobody, visible=True) == {}
    assert devnet.post("wallet/getcontract", value=nobody, visible=True) == {}
    assert devnet.post("wallet/getassetissuebyid", value="1000001") == {}


def test_visible_chooses_hex_or_base58_and_text(devnet: Devnet) -> None:
    alice = funded_wallet(devnet, trx=2_000_000, trc10=5)

    hidden = devnet.post("wallet/getaccount", address=alice.address)
    shown = devnet.post("wallet/getaccount", address=alice.address, visible=True)

    assert shown["address"] == alice.address
    assert hidden["address"] == alice.key.public_key.to_hex_address()
    assert hidden["owner_permission"]["keys"] == [{"address": hidden["address"], "weight": 1}]
    assert shown["assetV2"] == hidden["assetV2"] == [{"key": "1002000", "value": 5}]
    asset_hidden = devnet.post("wallet/getassetissuebyid", value="1002000")
    asset_shown = devnet.post("wallet/getassetissuebyid", value="1002000", visible=True)
    assert (asset_hidden["abbr"], asset_shown["abbr"]) == (b"BTT".hex(), "BTT")


def test_bad_input_gets_an_error_object(devnet: Devnet) -> None:
    not_a_number = devnet.post("wallet/getblockbynum", num="twelve")
    bad_json = httpx.post(f"{devnet.url}/wallet/getnowblock", content=b"{not json", timeout=10)
    bad_address = devnet.post("wallet/getaccount", address="T123", visible=True)

    assert not_a_number.keys() == {"Error"}
    assert bad_json.status_code == 200
    assert bad_json.json().keys() == {"Error"}
    assert bad_address.keys() == {"Error"}


def test_unknown_paths_are_not_found(devnet: Devnet) -> None:
    response = httpx.post(f"{devnet.url}/wallet/nosuchthing", json={}, timeout=10)

    assert response.status_code == 404


def test_blocks_are_produced_near_wall_clock_time_and_chained(devnet: Devnet) -> None:
    # given
    start = devnet.head()

    # when: nobody mines
    wait_for(lambda: devnet.head() >= start + 2, timeout=60, what="two produced blocks")

    # then
    blocks = [devnet.post("wallet/getblockbynum", num=n) for n in (start, start + 1, start + 2)]
    for parent, child in itertools.pairwise(blocks):
        raw = child["block_header"]["raw_data"]
        assert raw["parentHash"] == parent["blockID"]
        assert raw["timestamp"] > parent["block_header"]["raw_data"]["timestamp"]
        assert int(child["blockID"][:16], 16) == raw["number"]
    # A generous bound: only "this is today's clock, in milliseconds" is asserted.
    assert abs(blocks[-1]["block_header"]["raw_data"]["timestamp"] - time.time() * 1000) < 600_000


def test_getblock_without_detail_leaves_the_transactions_out(devnet: Devnet) -> None:
    someone = PrivateKey.random().public_key.to_base58check_address()
    txid = devnet.faucet(someone, "TRX", 1_000_000)
    devnet.mine()
    # The transfer's own block: the devnet's timed blocks may have moved the head past it.
    number = devnet.post("wallet/gettransactioninfobyid", value=txid)["blockNumber"]

    full = devnet.post("wallet/getblock", id_or_num=str(number), detail=True)
    header = devnet.post("wallet/getblock", id_or_num=str(number), detail=False)
    by_id = devnet.post("wallet/getblock", id_or_num=full["blockID"], detail=True)

    assert txid in [transaction["txID"] for transaction in full["transactions"]]
    assert "transactions" not in header
    assert header["blockID"] == full["blockID"]
    assert by_id == full


def test_getsignweight_gives_the_txid_and_the_owner_permission(devnet: Devnet) -> None:
    alice = funded_wallet(devnet, trx=1_000_000)
    client = devnet.tron()
    unsigned = client.trx.transfer(alice.address, BTT_TRC20, 1).build()
    payload = unsigned.to_json()

    answer = devnet.post("wallet/getsignweight", **payload)

    raw_hex = answer["transaction"]["transaction"]["raw_data_hex"]
    assert answer["transaction"]["transaction"]["txID"] == unsigned.txid
    assert hashlib.sha256(bytes.fromhex(raw_hex)).hexdigest() == unsigned.txid
    assert answer["result"] == {"code": "NOT_ENOUGH_PERMISSION"}
    assert answer["permission"]["keys"] == [
        {"address": alice.key.public_key.to_hex_address(), "weight": 1}
    ]


def test_triggers_build_and_read_like_java_tron(devnet: Devnet) -> None:
    alice = funded_wallet(devnet, trc20=42)
    parameter = "00" * 12 + alice.key.public_key.to_hex_address()[2:]

    constant = devnet.post(
        "wallet/triggerconstantcontract",
        owner_address=alice.address,
        contract_address=BTT_TRC20,
        function_selector="balanceOf(address)",
        parameter=parameter,
        visible=True,
    )
    built = devnet.post(
        "wallet/triggersmartcontract",
        owner_address=alice.address,
        contract_address=BTT_TRC20,
        function_selector="transfer(address,uint256)",
        parameter=parameter + f"{7:064x}",
        fee_limit=10_000_000,
        visible=True,
    )

    assert constant["result"] == {"result": True}
    assert int(constant["constant_result"][0], 16) == 42
    assert built["result"] == {"result": True}
    transaction = built["transaction"]
    assert transaction["raw_data"]["fee_limit"] == 10_000_000
    assert transaction["raw_data"]["contract"][0]["parameter"]["value"]["data"].startswith(
        "a9059cbb"
    )
    assert (
        hashlib.sha256(bytes.fromhex(transaction["raw_data_hex"])).hexdigest()
        == transaction["txID"]
    )


def test_chain_parameters_are_listed_as_java_tron_does(devnet: Devnet) -> None:
    parameters = devnet.tron().get_chain_parameters()

    by_key = {entry["key"]: entry.get("value", 0) for entry in parameters}
    assert by_key["getMaxFeeLimit"] == 15_000_000_000
    assert by_key["getAllowSameTokenName"] == 1
    assert {"key": "getMemoFee"} in parameters


def test_the_faucet_refuses_what_the_protocol_cannot_carry(devnet: Devnet) -> None:
    someone = PrivateKey.random().public_key.to_base58check_address()

    too_much_trx = devnet.post("devnet/faucet", address=someone, token="TRX", amount=str(2**63))
    unknown_token = devnet.post("devnet/faucet", address=someone, token="USDT", amount=1)
    not_positive = devnet.post("devnet/faucet", address=someone, token="TRX", amount=0)

    assert too_much_trx.keys() == unknown_token.keys() == not_positive.keys() == {"Error"}
    devnet.mine()
    assert devnet.post("wallet/getaccount", address=someone, visible=True) == {}


def test_receipts_of_a_block_are_listed_by_number(
    devnet_factory: Callable[..., Devnet],
) -> None:
    # A producer that stays quiet: the two faucet transfers go into the one block mined here,
    # and no timed block moves the head or solidifies it meanwhile.
    devnet = devnet_factory(TRON_DEVNET_BLOCK_SECONDS="600")
    alice = funded_wallet(devnet, trx=1_000_000, trc20=10)
    number = devnet.head()

    receipts = devnet.post("wallet/gettransactioninfobyblocknum", num=number)
    solid_receipts = devnet.post("walletsolidity/gettransactioninfobyblocknum", num=number)

    assert [r["blockNumber"] for r in receipts] == [number, number]
    [trc20_receipt] = [r for r in receipts if "log" in r]
    # visible=false: the log's address is the contract's 20 bytes, without the 0x41 prefix
    assert trc20_receipt["log"][0]["address"] == devnet.post("wallet/getcontract", value=BTT_TRC20)[
        "contract_address"
    ].removeprefix("41")
    assert int(trc20_receipt["log"][0]["topics"][2][-40:], 16) == int(
        alice.key.public_key.to_hex_address()[2:], 16
    )
    assert solid_receipts == []


def test_block_ranges_follow_java_tron_limits(devnet: Devnet) -> None:
    head = devnet.mine(3)["head"]

    ranged = devnet.post("wallet/getblockbylimitnext", startNum=head - 2, endNum=head + 1)
    latest = devnet.post("wallet/getblockbylatestnum", num=2)
    too_many = devnet.post("wallet/getblockbylimitnext", startNum=0, endNum=101)
    backwards = devnet.post("wallet/getblockbylimitnext", startNum=5, endNum=5)
    past_the_head = devnet.post("wallet/getblockbylimitnext", startNum=10**9, endNum=10**9 + 1)

    assert [b["block_header"]["raw_data"]["number"] for b in ranged["block"]] == [
        head - 2,
        head - 1,
        head,
    ]
    assert ranged["block"][2] == devnet.post("wallet/getblockbynum", num=head)
    # the producer may have added blocks since: the newest two, oldest first
    numbers = [b["block_header"]["raw_data"]["number"] for b in latest["block"]]
    assert numbers[1] == numbers[0] + 1 >= head
    assert too_many == backwards == {}
    assert past_the_head == {"block": []}
    assert devnet.post("wallet/gettransactioncountbyblocknum", num=10**9) == {"count": 0}


def test_trigger_calls_without_an_owner_are_refused_like_java_tron(devnet: Devnet) -> None:
    for path in ("triggersmartcontract", "triggerconstantcontract", "estimateenergy"):
        answer = devnet.post(
            f"wallet/{path}",
            contract_address=BTT_TRC20,
            function_selector="decimals()",
            visible=True,
        )
        assert answer == {
            "result": {
                "code": "OTHER_ERROR",
                "message": "class java.security.InvalidParameterException : "
                "owner_address isn't set.",
            }
        }


def test_resources_of_unknown_accounts_and_garbage_hex_transactions(devnet: Devnet) -> None:
    nobody = PrivateKey.random().public_key.to_base58check_address()

    assert devnet.post("wallet/getaccountresource", address=nobody, visible=True) == {}
    assert devnet.post("wallet/getaccountnet", address=nobody, visible=True) == {}
    assert devnet.post("wallet/broadcasthex", transaction="0a02zz").keys() == {"Error"}
    assert devnet.post("wallet/broadcasthex", transaction="08ff").keys() == {"Error"}
