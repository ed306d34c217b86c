"""What a block holds, read from java-tron's JSON: the block itself and its receipts.

Anything else than what java-tron answers (or answers that disagree) is a ``MalformedAnswer``:
the watcher then waits and asks again, as for a node that is down.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from payments.chain.node import NodeUnavailable


class MalformedAnswer(NodeUnavailable):
    """The node answered JSON, but not what java-tron answers (or answers disagree)."""


class ChainMismatch(NodeUnavailable):
    """The node's chain does not continue the solidified blocks already scanned: another
    network, or a devnet started afresh."""


@dataclass(frozen=True)
class Block:
    number: int
    block_id: str
    parent_id: str
    timestamp_ms: int
    transactions: tuple[Mapping[str, Any], ...]


def hex32(value: object, what: str) -> str:
    """``value`` as 32 bytes of lowercase hex (a block id or hash). Raises MalformedAnswer."""
    if not isinstance(value, str) or len(value) != 64:
        raise MalformedAnswer(f"{what} is not 32 bytes of hex: {value!r:.80}")
    try:
        bytes.fromhex(value)
    except ValueError:
        raise MalformedAnswer(f"{what} is not hex: {value!r:.80}") from None
    return value.lower()


def parse_block(answer: Mapping[str, Any], number: int) -> Block | None:
    """The block in a ``getblockbynum`` answer, None for ``{}`` (not there yet). Raises
    MalformedAnswer for anything else than block ``number`` in java-tron's JSON."""
    if not answer:
        return None
    if "Error" in answer:
        raise MalformedAnswer(f"block {number}: the node said {str(answer['Error'])[:200]}")
    try:
        raw = answer["block_header"]["raw_data"]
        # java-tron leaves out fields holding their default: block 0 has no "number".
        found = raw.get("number", 0)
        stamp = raw["timestamp"]
        transactions = answer.get("transactions", [])
    except (KeyError, TypeError, AttributeError) as error:
        raise MalformedAnswer(f"block {number}: not a block ({error!r})") from None
    if type(found) is not int or found != number:
        raise MalformedAnswer(f"asked for block {number}, got {found!r:.40}")
    if type(stamp) is not int:
        raise MalformedAnswer(f"block {number}: timestamp {stamp!r:.40}")
    if not isinstance(transactions, list) or not all(
        isinstance(tx, dict) and isinstance(tx.get("txID"), str) for tx in transactions
    ):
        raise MalformedAnswer(f"block {number}: transactions are not a list of transactions")
    return Block(
        number=number,
        block_id=hex32(answer.get("blockID"), f"block {number}'s blockID"),
        parent_id=hex32(raw.get("parentHash"), f"block {number}'s parentHash"),
        timestamp_ms=stamp,
        transactions=tuple(transactions),
    )


def parse_receipts(answer: Iterable[Any], number: int) -> dict[str, Mapping[str, Any]]:
    """``gettransactioninfobyblocknum`` by txid; every receipt must be of block ``number``."""
    receipts: dict[str, Mapping[str, Any]] = {}
    for info in answer:
        if not isinstance(info, dict) or not isinstance(info.get("id"), str):
            raise MalformedAnswer(f"block {number}: a receipt is not a TransactionInfo")
        if info.get("blockNumber") != number:
            raise MalformedAnswer(
                f"block {number}: a receipt of block {info.get('blockNumber')!r:.40}"
            )
        receipts[info["id"].lower()] = info
    return receipts
