"""The watcher's reads from the node: the solidified head, and each block with the transfers it
proves to the watched addresses (``verification.verify_transfers``: success, the exact BTT
contract or asset, recipient, amount). No database transaction is open while the node is asked.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from payments import invoices, pricing
from payments.chain.blocks import Block, MalformedAnswer, hex32, parse_block, parse_receipts
from payments.chain.matching import candidates, needs_receipts
from payments.chain.node import NodeClient
from payments.chain.verification import ChainTransfer, Refused, Verified, verify_transfers
from payments.money import Token

# One log for the whole watcher, under the name its operators know.
log = logging.getLogger("payments.watcher")


@dataclass(frozen=True)
class ScannedBlock:
    """A block and the transfers it proves to the addresses watched when it was read."""

    block: Block
    transfers: tuple[ChainTransfer, ...]
    refused: tuple[tuple[str, Refused], ...] = ()

    @property
    def number(self) -> int:
        return self.block.number


@dataclass
class WatcherStats:
    """What a watcher has done since it started (logged when it stops)."""

    blocks: int = 0
    transfers: int = 0  # proven transfers to watched addresses
    credited: int = 0  # of those, the ones that pay an invoice
    unmatched: int = 0  # and the ones that pay none (another token, amount, or address)
    refused: Counter[str] = field(default_factory=Counter)  # Refusal of transfers to us
    settled_checks: int = 0
    dropped: int = 0
    taken: int = 0
    forks: int = 0


class Scanner:
    """Reads blocks from the node and proves the transfers in them (the first part of a
    ``Watcher``)."""

    def __init__(
        self, node: NodeClient, network: str, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.node = node
        self.network = network
        self.clock = clock
        self.stats = WatcherStats()
        self.solid: int = -1  # the highest solidified head the node has told us
        self.solid_asked_at = 0.0  # by ``clock``

    def solid_head(self) -> int:
        """Ask the node for its solidified head (never lower than one it said before: a
        TronGrid backend that lags behind another must not un-solidify a block)."""
        self.solid_header()
        return self.solid

    def solid_header(self) -> tuple[int, str]:
        """The solidified head's number and blockID, as this node says them. Raises
        NodeUnavailable (MalformedAnswer for an answer that is not a block header)."""
        answer = self.node.block_header(solid=True)
        try:
            number = answer["block_header"]["raw_data"].get("number", 0)
        except (KeyError, TypeError, AttributeError):
            raise MalformedAnswer(f"the solidified head is not a block: {answer!r:.200}") from None
        if type(number) is not int or number < 0:
            raise MalformedAnswer(f"the solidified head's number is {number!r:.40}")
        block_id = hex32(answer.get("blockID"), "the solidified head's blockID")
        self.solid = max(self.solid, number)
        self.solid_asked_at = self.clock()
        return number, block_id

    def scan(self, number: int) -> ScannedBlock | None:
        """Read block ``number`` and prove the transfers in it to the watched addresses; None
        while the node does not have it. No database transaction is open meanwhile."""
        block = parse_block(self.node.block(number), number)
        if block is None:
            return None
        # Read the addresses after the block: an invoice always exists before the transfer
        # that pays it, so it is in this set whenever its transfer is in this block.
        watched = invoices.watched_addresses()
        tokens = pricing.accepted_tokens()
        receipts = None
        if block.transactions and needs_receipts(block, watched, tokens):
            receipts = parse_receipts(self.node.block_transaction_infos(number), number)
        return self.prove(block, receipts, watched, tokens)

    def prove(
        self,
        block: Block,
        receipts: Mapping[str, Mapping[str, Any]] | None,
        watched: Collection[str],
        tokens: Collection[Token],
    ) -> ScannedBlock:
        transfers: list[ChainTransfer] = []
        refused: list[tuple[str, Refused]] = []
        contract = pricing.btt_contract()
        for candidate in candidates(block, receipts, watched, tokens):
            txid = candidate.transaction["txID"]
            info = (receipts or {}).get(txid.lower())
            if info is None:
                raise MalformedAnswer(f"block {block.number}: no receipt for {txid:.64}")
            result = verify_transfers(
                candidate.transaction,
                info,
                token=candidate.token,
                recipients=watched,
                btt_contract=contract,
                txid=txid,
            )
            if isinstance(result, Verified):
                transfers.extend(result.transfers)
            else:
                refused.append((txid, result))
                self.stats.refused[result.reason.value] += 1
                log.info(
                    "block %s: %s to a watched address is no payment: %s (%s)",
                    block.number,
                    txid,
                    result.reason.value,
                    result.detail,
                )
        return ScannedBlock(block, tuple(transfers), tuple(refused))
