"""Applying scanned blocks: their credits and the move of the cursor past each commit in one
database transaction, under a lock of the cursor row, so a watcher that finds the cursor already
moved drops its copy of the block (restarts, crashes, several watchers). A block whose
``parentHash`` is not the block scanned before it means the chain switched forks: scanning goes
back to the last block known to be solidified.
"""

from __future__ import annotations

import logging
from enum import Enum

from django.db import transaction
from django.utils import timezone

from btt_platform import broadcast
from payments import crediting
from payments.chain.blocks import Block, ChainMismatch, parse_block
from payments.chain.scanning import ScannedBlock, Scanner
from payments.models import ChainCursor

# One log for the whole watcher, under the name its operators know.
log = logging.getLogger("payments.watcher")


class Applied(Enum):
    """What became of a scanned block handed to ``BlockApplier.apply``."""

    APPLIED = "applied"
    TAKEN = "taken"  # another watcher applied it first
    FORKED = "forked"  # it does not follow the block scanned before it


class BlockApplier(Scanner):
    """Credits scanned blocks and keeps the cursor (the second part of a ``Watcher``)."""

    def cursor(self) -> ChainCursor:
        """This network's cursor; on the very first start, at the node's solidified head (so
        the minute of blocks after it is scanned too)."""
        found = ChainCursor.objects.filter(network=self.network).first()
        if found is not None:
            return found
        start, start_id = self.solid_header()
        cursor, created = ChainCursor.objects.get_or_create(
            network=self.network,
            # With its ID, the first block scanned is checked to follow it like any other.
            defaults={
                "head_block": start,
                "head_block_id": start_id,
                "solid_block": start,
                "solid_block_id": start_id,
            },
        )
        if created:
            log.info("%s: first start, scanning from block %s", self.network, start + 1)
        return cursor

    def start_from(self, number: int) -> ChainCursor:
        """Scan from block ``number`` on, whatever was scanned before (credits are idempotent,
        so going back only costs the time)."""
        cursor, _ = ChainCursor.objects.update_or_create(
            network=self.network,
            defaults={
                "head_block": number - 1,
                "head_block_id": "",
                "solid_block": number - 1,
                "solid_block_id": "",
                "updated_at": timezone.now(),
            },
        )
        return cursor

    def apply(self, scanned: ScannedBlock, *, solidified: bool) -> Applied:
        """Credit a scanned block's transfers and move the cursor past it, in one transaction
        under the cursor's row lock (the second of two racing watchers finds it moved); then
        publish the block's events together. A failure on any transfer takes back the whole
        block (raised; the cursor stays before it, and the next pass credits it again)."""
        block = scanned.block
        # The block's events go out after its commit in one round trip, in crediting order.
        with broadcast.batched(), transaction.atomic():
            cursor = ChainCursor.objects.select_for_update().get(network=self.network)
            if cursor.head_block != block.number - 1:
                return Applied.TAKEN
            if cursor.head_block_id and cursor.head_block_id != block.parent_id:
                return Applied.FORKED
            payments = crediting.record_block(scanned.transfers, solidified=solidified)
            for transfer, payment in zip(scanned.transfers, payments, strict=True):
                if payment is None:
                    self.stats.unmatched += 1
                else:
                    self.stats.credited += 1
                    log.info(
                        "block %s: %s#%s (%s) pays invoice %s%s",
                        block.number,
                        transfer.txid,
                        transfer.log_index,
                        transfer.amount,
                        payment.invoice_id,
                        ", solidified" if solidified else "",
                    )
            cursor.head_block = block.number
            cursor.head_block_id = block.block_id
            if solidified and block.number > cursor.solid_block:
                cursor.solid_block, cursor.solid_block_id = block.number, block.block_id
            cursor.updated_at = timezone.now()
            cursor.save(
                update_fields=[
                    "head_block",
                    "head_block_id",
                    "solid_block",
                    "solid_block_id",
                    "updated_at",
                ]
            )
        self.stats.blocks += 1
        self.stats.transfers += len(scanned.transfers)
        return Applied.APPLIED

    def rewind(self, forked: Block) -> None:
        """``forked`` does not follow the block scanned before it: scan again from the last
        block known to be solidified (what no longer is on chain drops when its block number
        is solidified)."""
        cursor = ChainCursor.objects.get(network=self.network)
        if cursor.solid_block >= forked.number - 1:
            raise self._another_chain(
                f"block {forked.number}'s parent is {forked.parent_id}, but block "
                f"{cursor.head_block} was {cursor.head_block_id} and is solidified"
            )
        self._back_to_floor(cursor, forked)

    def _back_to_floor(self, cursor: ChainCursor, changed: Block) -> None:
        """Back to the last block known to be solidified, unless another watcher moved first.
        A fork switch leaves the solidified blocks as they were: a node that no longer names
        the floor as it was solidified is on another chain, and is refused, not followed."""
        if cursor.solid_block_id:
            number = cursor.solid_block
            floor = parse_block(self.node.block(number, solid=True), number)
            if floor is not None and floor.block_id != cursor.solid_block_id:
                raise self._another_chain(
                    f"block {changed.number} does not follow block {cursor.head_block}, and the "
                    f"solidified block {number} was {cursor.solid_block_id}, not {floor.block_id}"
                )
        moved = ChainCursor.objects.filter(
            network=self.network, head_block=cursor.head_block, head_block_id=cursor.head_block_id
        ).update(
            head_block=cursor.solid_block,
            head_block_id=cursor.solid_block_id,
            updated_at=timezone.now(),
        )
        if moved:
            self.stats.forks += 1
            log.warning(
                "the chain changed under blocks %s-%s (block %s is %s, parent %s): scanning "
                "again from block %s",
                cursor.solid_block + 1,
                cursor.head_block,
                changed.number,
                changed.block_id,
                changed.parent_id,
                cursor.solid_block + 1,
            )

    def _another_chain(self, found: str) -> ChainMismatch:
        return ChainMismatch(
            f"{found}: the node at {self.node.url} is on another chain than {self.network} was "
            "scanned on (a devnet started afresh?). Start again with `watch_chain --from-block`."
        )

    def raise_solid_floor(self, number: int) -> None:
        """Take block ``number`` as solidified in the cursor (``solid_block``, where a rewind
        goes back to, and its blockID), unless the node's chain no longer holds the block
        scanned last."""
        # Never above the blocks scanned: a rewind goes back to it, and must not go forward.
        cursor = ChainCursor.objects.get(network=self.network)
        if number <= cursor.solid_block:
            return
        head = cursor.head_block
        if number < head and cursor.head_block_id:
            # The solidified block is below the blocks scanned: it is theirs only while the
            # node's chain still holds the block scanned last (each block names its parent).
            # Otherwise the next block scanned finds the change, and the floor stays meanwhile.
            current = parse_block(self.node.block(head), head)
            if current is None or current.block_id != cursor.head_block_id:
                return
        solidified = parse_block(self.node.block(number, solid=True), number)
        if solidified is None:
            return  # this node's solidity view is behind: later
        if number >= head and cursor.head_block_id and solidified.block_id != cursor.head_block_id:
            # The block scanned last was read before it was solidified, and the chain switched
            # forks under it since: taking it as the floor would make the next block look like
            # another chain.
            self._back_to_floor(cursor, solidified)
            return
        ChainCursor.objects.filter(network=self.network, solid_block__lt=number).update(
            solid_block=number, solid_block_id=solidified.block_id
        )
