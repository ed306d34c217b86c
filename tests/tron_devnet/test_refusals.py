"""Bad transactions are refused with java-tron's error shape, and nothing moves."""

from __future__ import annotations

import httpx
import pytest
from tronpy.exceptions import BadSignature, TaposError, TransactionError, ValidationError
from tronpy.keys import PrivateKey
from tronpy.tron import Transaction

from tests.fixtures.devnet import BTT_TRC10, Devnet, Wallet, funded_wallet


def _transfer(devnet: Devnet, sender: Wallet, to: str, amount: int) -> Transaction:
    """An unsigned TRX transfer as tronpy builds it (its txID comes from getsignweight)."""
    transaction: Transaction = devnet.tron().trx.transfer(sender.address, to, amount).build()
    return transaction


def _broadcast_raw(devnet: Devnet, transaction: Transaction) -> dict[str, object]:
    """Broadcast exactly what tronpy would send, and return the node's JSON untouched."""
    response = httpx.post(
        f"{devnet.url}/wallet/broadcasttransaction", json=transaction.to_json(), timeout=30
    )
    assert response.status_code == 200
    payload: dict[str, object] = response.json()
    return payload


def _message(payload: dict[str, object]) -> str:
    # visible=false, java-tron's default: Return.message is hex-encoded UTF-8.
    assert isinstance(payload["message"], str)
    return bytes.fromhex(payload["message"]).decode()


def _balance(devnet: Devnet, address: str) -> int:
    account = devnet.tron().provider.make_request(
        "wallet/getaccount", {"address": address, "visible": True}
    )
    balance: int = account.get("balance", 0)
    return balance


def _assert_never_included(devnet: Devnet, txid: str) -> None:
    devnet.mine()
    assert devnet.post("wallet/gettransactionbyid", value=txid) == {}
    assert devnet.post("wallet/gettransactioninfobyid", value=txid) == {}


def test_a_forged_signature_is_refused(devnet: Devnet) -> None:
    # given: alice's transfer signed by mallory's key
    alice = funded_wallet(devnet, trx=5_000_000)
    mallory = PrivateKey.random()
    transaction = _transfer(devnet, alice, mallory.public_key.to_base58check_address(), 1_000_000)
    transaction.set_signature([mallory.sign_msg_hash(bytes.fromhex(transaction.txid)).hex()])

    # when
    payload = _broadcast_raw(devnet, transaction)

    # then
    assert payload.keys() == {"code", "txid", "message"}
    assert payload["code"] == "SIGERROR"
    assert payload["txid"] == transaction.txid
    assert _message(payload) == (
        f"Validate signature error: {transaction.txid} is signed by "
        f"{mallory.public_key.to_base58check_address()} but it is not contained of permission."
    )
    _assert_never_included(devnet, transaction.txid)
    assert _balance(devnet, alice.address) == 5_000_000


def test_tronpy_reports_a_forged_signature_as_bad_signature(devnet: Devnet) -> None:
    alice = funded_wallet(devnet, trx=5_000_000)
    bob = PrivateKey.random().public_key.to_base58check_address()
    transaction = _transfer(devnet, alice, bob, 1)
    signature = bytearray(alice.key.sign_msg_hash(bytes.fromhex(transaction.txid)).to_bytes())
    signature[10] ^= 0xFF  # tampered in transit
    transaction.set_signature([signature.hex()])

    with pytest.raises(BadSignature, match="Validate signature error"):
        transaction.broadcast()

    assert _balance(devnet, alice.address) == 5_000_000


def test_a_stale_reference_block_is_refused(devnet: Devnet) -> None:
    # given: a transaction referring to the solidified head (as tronpy does) ...
    alice = funded_wallet(devnet, trx=5_000_000)
    bob = PrivateKey.random().public_key.to_base58check_address()
    transaction = _transfer(devnet, alice, bob, 1_000_000).sign(alice.key)

    # ... that has dropped out of the node's recent blocks (a window of 40 here)
    devnet.mine(41)

    # when
    with pytest.raises(TaposError, match=r"^Tapos check error\.$"):
        transaction.broadcast()

    # then
    _assert_never_included(devnet, transaction.txid)
    assert _balance(devnet, alice.address) == 5_000_000


def test_a_reference_to_an_unknown_block_is_refused(devnet: Devnet) -> None:
    alice = funded_wallet(devnet, trx=5_000_000)
    bob = PrivateKey.random().public_key.to_base58check_address()
    transaction = _transfer(devnet, alice, bob, 1_000_000)
    payload = transaction.to_json()
    payload["raw_data"]["ref_block_hash"] = "00" * 8
    txid = devnet.post("wallet/getsignweight", **payload)["transaction"]["txid"]
    payload["signature"] = [alice.key.sign_msg_hash(bytes.fromhex(txid)).hex()]

    answer = devnet.post("wallet/broadcasttransaction", **payload)

    assert answer["code"] == "TAPOS_ERROR"
    assert answer["txid"] == txid
    assert _message(answer) == "Tapos check error."


def test_an_expired_transaction_is_refused(devnet: Devnet) -> None:
    # given: a correctly signed transaction whose expiration has passed
    alice = funded_wallet(devnet, trx=5_000_000)
    bob = PrivateKey.random().public_key.to_base58check_address()
    builder = devnet.tron().trx.transfer(alice.address, bob, 1_000_000).expiration(-1_000)
    transaction = builder.build()
    assert transaction.is_expired
    # tronpy refuses to sign it; a wallet that does not check signs it anyway.
    transaction.set_signature([alice.key.sign_msg_hash(bytes.fromhex(transaction.txid)).hex()])

    # when
    with pytest.raises(TransactionError, match=r"^Transaction expired$"):
        transaction.broadcast()

    # then
    _assert_never_included(devnet, transaction.txid)
    assert _balance(devnet, alice.address) == 5_000_000


def test_an_expiration_more_than_a_day_ahead_is_refused(devnet: Devnet) -> None:
    alice = funded_wallet(devnet, trx=5_000_000)
    bob = PrivateKey.random().public_key.to_base58check_address()
    builder = devnet.tron().trx.transfer(alice.address, bob, 1_000_000)
    transaction = builder.expiration(24 * 3600 * 1000 + 60_000).build().sign(alice.key)

    payload = _broadcast_raw(devnet, transaction)

    assert payload["code"] == "TRANSACTION_EXPIRATION_ERROR"
    assert _message(payload) == "Transaction expired"


def test_a_replayed_transaction_is_refused(devnet: Devnet) -> None:
    # given: a payment that went through
    alice = funded_wallet(devnet, trx=5_000_000)
    bob = PrivateKey.random().public_key.to_base58check_address()
    transaction = _transfer(devnet, alice, bob, 1_000_000).sign(alice.key)
    assert _broadcast_raw(devnet, transaction) == {"result": True, "txid": transaction.txid}
    devnet.mine()

    # when: the same signed bytes are sent again
    payload = _broadcast_raw(devnet, transaction)

    # then
    assert payload["code"] == "DUP_TRANSACTION_ERROR"
    assert _message(payload) == "Transaction already exists."
    devnet.mine()
    assert _balance(devnet, bob) == 1_000_000
    assert _balance(devnet, alice.address) == 4_000_000


def test_spending_the_same_trx_twice_is_refused(devnet: Devnet) -> None:
    # given: a first payment of most of the balance, still pending
    alice = funded_wallet(devnet, trx=5_000_000)
    bob = PrivateKey.random().public_key.to_base58check_address()
    carol = PrivateKey.random().public_key.to_base58check_address()
    _transfer(devnet, alice, bob, 4_000_000).sign(alice.key).broadcast()

    # when: the same coins go to someone else before a block is made
    second = _transfer(devnet, alice, carol, 4_000_000).sign(alice.key)
    with pytest.raises(
        ValidationError,
        match=r"^Contract validate error : Validate TransferContract error, "
        r"balance is not sufficient\.$",
    ):
        second.broadcast()

    # then
    _assert_never_included(devnet, second.txid)
    assert _balance(devnet, bob) == 4_000_000
    assert _balance(devnet, carol) == 0
    assert _balance(devnet, alice.address) == 1_000_000


def test_spending_the_same_trc10_btt_twice_is_refused(devnet: Devnet) -> None:
    alice = funded_wallet(devnet, trx=1_000_000, trc10=3_000)
    bob = PrivateKey.random().public_key.to_base58check_address()
    client = devnet.tron()
    client.trx.asset_transfer(alice.address, bob, 2_000, int(BTT_TRC10)).build().sign(
        alice.key
    ).broadcast()

    second = client.trx.asset_transfer(alice.address, bob, 2_000, int(BTT_TRC10)).memo("again")
    with pytest.raises(ValidationError, match=r"assetBalance is not sufficient\.$"):
        second.build().sign(alice.key).broadcast()

    devnet.mine()
    assert client.get_account_asset_balance(bob, int(BTT_TRC10)) == 2_000
    assert client.get_account_asset_balance(alice.address, int(BTT_TRC10)) == 1_000


def test_a_malformed_broadcast_gets_an_error_object(devnet: Devnet) -> None:
    answer = devnet.post(
        "wallet/broadcasttransaction",
        raw_data={"contract": [{"type": "TransferContract", "parameter": {"value": 5}}]},
    )

    assert answer.keys() == {"Error"}
