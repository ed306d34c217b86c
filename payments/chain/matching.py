"""Which transactions of a block may pay a watched address in an accepted token: a cheap look at
the block (and its receipts, for TRC-20 logs) before verification proves or refuses each one.

TRX and TRC-10 transfers are transactions of their own, found in the block; a TRC-20 transfer is
a ``Transfer`` log in the receipt of a contract call.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import base58

from payments.chain.blocks import Block, MalformedAnswer
from payments.chain.verification import TRANSFER_TOPIC
from payments.money import Token

TRIGGER = "TriggerSmartContract"
OWN_TRANSFERS = {"TransferContract": Token.TRX, "TransferAssetContract": Token.BTTOLD}


def _contract(transaction: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    """The type and parameter value of a transaction's one contract ("", {} when unreadable:
    verification judges the transactions that matter, the rest are not ours to judge)."""
    try:
        contract = transaction["raw_data"]["contract"][0]
        value = contract["parameter"]["value"]
        kind = contract["type"]
    except (KeyError, IndexError, TypeError):
        return "", {}
    if not isinstance(kind, str) or not isinstance(value, dict):
        return "", {}
    return kind, value


def address_topic(address: str) -> str:
    """How an indexed ``address`` argument of an event appears in a log's topics."""
    return "0" * 24 + base58.b58decode_check(address)[1:].hex()


def _pays_a_watched_topic(info: Mapping[str, Any], topics: Collection[str]) -> bool:
    logs = info.get("log", [])
    if not isinstance(logs, list):
        return False
    for entry in logs:
        found = entry.get("topics") if isinstance(entry, dict) else None
        if (
            isinstance(found, list)
            and len(found) == 3
            and str(found[0]).lower() == TRANSFER_TOPIC
            and str(found[2]).lower() in topics
        ):
            return True
    return False


@dataclass(frozen=True)
class Candidate:
    transaction: Mapping[str, Any]
    token: Token


def candidates(
    block: Block,
    receipts: Mapping[str, Mapping[str, Any]] | None,
    watched: Collection[str],
    tokens: Collection[Token],
) -> list[Candidate]:
    """The transactions of ``block`` that may pay a watched address in an accepted token:
    a cheap look, before verification proves or refuses each. ``receipts`` None: the TRC-20
    part is left out (``needs_receipts`` said there is none to look at)."""
    topics = {address_topic(address) for address in watched}
    found: list[Candidate] = []
    for tx in block.transactions:
        kind, value = _contract(tx)
        if kind == TRIGGER and Token.BTT in tokens and receipts is not None:
            info = receipts.get(tx["txID"].lower())
            if info is None:
                raise MalformedAnswer(f"block {block.number}: no receipt for {tx['txID']:.64}")
            if _pays_a_watched_topic(info, topics):
                found.append(Candidate(tx, Token.BTT))
        elif (
            kind in OWN_TRANSFERS
            and OWN_TRANSFERS[kind] in tokens
            and value.get("to_address") in watched
        ):
            found.append(Candidate(tx, OWN_TRANSFERS[kind]))
    return found


def needs_receipts(block: Block, watched: Collection[str], tokens: Collection[Token]) -> bool:
    for tx in block.transactions:
        kind, value = _contract(tx)
        if kind == TRIGGER and Token.BTT in tokens:
            return True
        if kind in OWN_TRANSFERS and value.get("to_address") in watched:
            return True
    return False
