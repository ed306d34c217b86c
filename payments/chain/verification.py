"""Proving a payment from java-tron's own answers, without a database or a network.

Given what a full node returns for ``wallet/gettransactionbyid`` and
``wallet/gettransactioninfobyid`` (either ``visible`` form), ``verify_transfers`` returns the
transfers of a token to the addresses we watch, or why there are none. It reads the *receipt*,
not the call data: a TRC-20 ``transfer`` call says what the payer asked for, while the
receipt's logs say what the token contract did, and a reverted call still sits in a block.

- TRC-20 (BTT): the transaction succeeded (``ret[0].contractRet`` and ``receipt.result`` are
  ``SUCCESS``); a log emitted by exactly the BTT contract, ``topics[0]`` the ERC-20 ``Transfer``
  event, ``topics[2]`` the recipient, the amount in ``data``. One transaction may carry several
  such logs; each is a transfer of its own, told apart by its index in the log list.
- TRC-10 (BTTOLD) and TRX: the transaction's one contract is a ``TransferAssetContract`` of
  asset ``1002000`` (hex-encoded unless ``visible``) or a ``TransferContract``, to the
  recipient, with ``contractRet`` ``SUCCESS``.

Whether the block is solidified is not in these answers; the caller knows which endpoint
(``walletsolidity/*``) or which block height it read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import base58

from btt_platform.tron import ADDRESS_PREFIX, is_tron_address
from payments.money import (
    BTT_TRC10_ASSET_ID,
    BTT_TRC20_MAINNET_CONTRACT,
    Amount,
    Standard,
    Token,
)

# keccak256("Transfer(address,address,uint256)")
TRANSFER_TOPIC = "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
SUCCESS = "SUCCESS"
# A TRX or TRC-10 transfer is the transaction itself, not a log of a contract call; it takes
# this log index so that (txid, log index) names every kind of transfer uniquely.
OWN_TRANSFER = -1


class Refusal(StrEnum):
    NOT_FOUND = "not_found"  # the node does not know the transaction (yet)
    PENDING = "pending"  # known, but not in a block yet: ask again later
    NODE_ERROR = "node_error"  # the node answered {"Error": ...}
    MALFORMED = "malformed"  # not the shape java-tron answers with
    MISMATCH = "mismatch"  # the transaction, its receipt and the txid disagree
    FAILED = "failed"  # reverted, out of energy, or otherwise not SUCCESS
    WRONG_TOKEN = "wrong_token"  # noqa: S105  (a transfer to us, of another token or contract)
    WRONG_RECIPIENT = "wrong_recipient"  # a transfer of the token, to someone else
    NO_TRANSFER = "no_transfer"  # nothing in it moves the token to anyone we watch

    @property
    def final(self) -> bool:
        """False when asking again later may give another answer."""
        return self not in (Refusal.NOT_FOUND, Refusal.PENDING, Refusal.NODE_ERROR)


@dataclass(frozen=True)
class ChainTransfer:
    """One proven movement of ``amount`` from ``sender`` to ``recipient`` (base58 addresses)."""

    txid: str
    log_index: int  # OWN_TRANSFER (-1) for TRX and TRC-10
    amount: Amount
    sender: str
    recipient: str
    block_number: int
    block_time: datetime
    memo: str = ""


@dataclass(frozen=True)
class Verified:
    transfers: tuple[ChainTransfer, ...]


@dataclass(frozen=True)
class Refused:
    reason: Refusal
    detail: str


class _Malformed(Exception):
    pass


def verify_transfers(
    transaction: Mapping[str, Any],
    info: Mapping[str, Any],
    *,
    token: Token,
    recipients: Collection[str],
    btt_contract: str = BTT_TRC20_MAINNET_CONTRACT,
    txid: str | None = None,
) -> Verified | Refused:
    """The transfers of ``token`` to any of ``recipients`` that this transaction proves.

    ``transaction`` and ``info`` are the node's JSON answers; ``txid``, when given, is the id
    that was asked for. Never raises on bad input: anything unexpected is a ``Refused``.
    """
    try:
        return _verify(transaction, info, token, set(recipients), btt_contract, txid)
    except (_Malformed, KeyError, IndexError, TypeError, ValueError, AttributeError) as error:
        return Refused(Refusal.MALFORMED, f"unexpected node answer: {error}")


def _verify(
    transaction: Mapping[str, Any],
    info: Mapping[str, Any],
    token: Token,
    recipients: set[str],
    btt_contract: str,
    asked: str | None,
) -> Verified | Refused:
    if not isinstance(transaction, Mapping) or not isinstance(info, Mapping):
        raise _Malformed("answers must be JSON objects")
    for answer in (transaction, info):
        if "Error" in answer:
            return Refused(Refusal.NODE_ERROR, f"the node said: {str(answer['Error'])[:200]}")
    if not transaction:
        return Refused(Refusal.NOT_FOUND, "the node does not know this transaction")

    txid = _hex(transaction["txID"], 32)
    if asked is not None and txid != asked.lower():
        return Refused(Refusal.MISMATCH, "the node answered with another transaction")
    raw_hex = transaction.get("raw_data_hex")
    if raw_hex is not None and hashlib.sha256(bytes.fromhex(raw_hex)).hexdigest() != txid:
        return Refused(Refusal.MISMATCH, "the txID is not the hash of the transaction's raw data")
    if not info or "blockNumber" not in info:
        return Refused(Refusal.PENDING, "the transaction is not in a block yet")
    if _hex(info["id"], 32) != txid:
        return Refused(Refusal.MISMATCH, "the receipt belongs to another transaction")

    raw = transaction["raw_data"]
    contracts = raw["contract"]
    if not isinstance(contracts, list) or len(contracts) != 1:
        raise _Malformed("a TRON transaction carries exactly one contract")
    contract = contracts[0]
    outcome = str(transaction["ret"][0].get("contractRet", ""))
    if outcome != SUCCESS or info.get("result") == "FAILED":
        why = outcome or str(info.get("result"))
        return Refused(Refusal.FAILED, f"the transaction did not succeed ({why})")

    block = _Block(
        txid=txid,
        number=_integer(info["blockNumber"]),
        time=_block_time(_integer(info["blockTimeStamp"])),
        memo=_memo(raw.get("data", "")),
    )
    if token.standard is Standard.TRC20:
        if contract["type"] != "TriggerSmartContract":
            return _not_a_token_call(contract["type"], token)
        return _trc20(info, block, token, recipients, btt_contract)
    return _own_transfer(contract, block, token, recipients)


def _not_a_token_call(kind: str, token: Token) -> Refused:
    if kind in ("TransferAssetContract", "TransferContract", "TriggerSmartContract"):
        return Refused(Refusal.WRONG_TOKEN, f"a {kind}, not a {token.value} transfer")
    return Refused(Refusal.NO_TRANSFER, f"a {kind} moves no {token.value}")


@dataclass(frozen=True)
class _Block:
    txid: str
    number: int
    time: datetime
    memo: str


def _trc20(
    info: Mapping[str, Any], block: _Block, token: Token, recipients: set[str], contract: str
) -> Verified | Refused:
    result = str(info.get("receipt", {}).get("result", ""))
    if result != SUCCESS:
        return Refused(Refusal.FAILED, f"the contract call did not succeed ({result or 'none'})")
    transfers: list[ChainTransfer] = []
    other_token_to_us = btt_to_others = False
    for index, log in enumerate(info.get("log", [])):
        topics = [str(topic).lower() for topic in log.get("topics", [])]
        data = str(log.get("data", ""))
        # ERC-721's Transfer has the same topic[0] with a fourth (indexed tokenId) topic.
        if len(topics) != 3 or topics[0] != TRANSFER_TOPIC or len(data) != 64:
            continue
        try:
            emitter = _address(log["address"])
            recipient = _topic_address(topics[2])
            sender = _topic_address(topics[1])
            units = int(_hex(data, 32), 16)
        except _Malformed:
            continue  # any contract may emit such a log; it cannot be a token transfer to us
        if emitter != contract:
            other_token_to_us |= recipient in recipients
            continue
        if recipient not in recipients:
            btt_to_others = True
            continue
        if units == 0:
            continue
        transfers.append(
            ChainTransfer(
                txid=block.txid,
                log_index=index,
                amount=Amount(units, token),
                sender=sender,
                recipient=recipient,
                block_number=block.number,
                block_time=block.time,
                memo=block.memo,
            )
        )
    if transfers:
        return Verified(tuple(transfers))
    if other_token_to_us:
        return Refused(Refusal.WRONG_TOKEN, f"the transfer to us is not from {contract}")
    if btt_to_others:
        return Refused(Refusal.WRONG_RECIPIENT, "the token went to another address")
    return Refused(Refusal.NO_TRANSFER, "no Transfer of the token in the receipt")


def _own_transfer(
    contract: Mapping[str, Any], block: _Block, token: Token, recipients: set[str]
) -> Verified | Refused:
    kind = contract["type"]
    value = contract["parameter"]["value"]
    wanted = "TransferAssetContract" if token.standard is Standard.TRC10 else "TransferContract"
    if kind != wanted:
        return _not_a_token_call(kind, token)
    if token.standard is Standard.TRC10 and _asset_name(value["asset_name"]) != BTT_TRC10_ASSET_ID:
        return Refused(Refusal.WRONG_TOKEN, f"asset {value['asset_name']!r} is not BTT")
    recipient = _address(value["to_address"])
    if recipient not in recipients:
        return Refused(Refusal.WRONG_RECIPIENT, f"{token.value} went to another address")
    units = _integer(value["amount"])
    if units <= 0:
        return Refused(Refusal.NO_TRANSFER, "a transfer of nothing")
    return Verified(
        (
            ChainTransfer(
                txid=block.txid,
                log_index=OWN_TRANSFER,
                amount=Amount(units, token),
                sender=_address(value["owner_address"]),
                recipient=recipient,
                block_number=block.number,
                block_time=block.time,
                memo=block.memo,
            ),
        )
    )


# --- java-tron's encodings ------------------------------------------------------------------


def _hex(value: object, size: int) -> str:
    """``size`` bytes of lowercase hex (java-tron writes bytes as hex without 0x)."""
    if not isinstance(value, str) or len(value) != size * 2:
        raise _Malformed(f"expected {size} bytes of hex, got {value!r:.80}")
    bytes.fromhex(value)
    return value.lower()


def _integer(value: object) -> int:
    if type(value) is not int:
        raise _Malformed(f"expected an integer, got {value!r:.40}")
    return value


def _address(value: object) -> str:
    """A base58 address from any form java-tron writes: base58 (visible), 41-prefixed hex, or
    the EVM's 20 bytes (log addresses)."""
    if not isinstance(value, str):
        raise _Malformed(f"not an address: {value!r:.60}")
    if is_tron_address(value):
        return value
    if len(value) == 40:
        value = f"{ADDRESS_PREFIX:02x}{value}"
    raw = bytes.fromhex(_hex(value, 21))
    if raw[0] != ADDRESS_PREFIX:
        raise _Malformed(f"not a TRON address: {value!r}")
    return base58.b58encode_check(raw).decode()


def _topic_address(topic: str) -> str:
    # An indexed address is left-padded to 32 bytes; the padding must be zeros.
    word = _hex(topic, 32)
    if word[:24] != "0" * 24:
        raise _Malformed(f"not an address topic: {topic!r}")
    return _address(word[24:])


def _asset_name(value: object) -> str:
    if not isinstance(value, str):
        raise _Malformed(f"not an asset name: {value!r:.40}")
    # Hex-encoded ASCII unless ``visible``; an id like "1002000" (odd length) is not hex.
    try:
        decoded = bytes.fromhex(value).decode("ascii")
    except (ValueError, UnicodeDecodeError):
        return value
    return decoded if decoded.isdigit() else value


def _memo(value: object) -> str:
    if not isinstance(value, str) or not value:
        return ""
    try:
        return bytes.fromhex(value).decode("utf-8", errors="replace").strip()[:200]
    except ValueError:
        return ""


def _block_time(milliseconds: int) -> datetime:
    return datetime.fromtimestamp(milliseconds // 1000, UTC) + timedelta(
        milliseconds=milliseconds % 1000
    )
