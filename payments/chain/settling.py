"""Settling: once the node says a block is solidified, the credited transfers waiting in it (and
the unmatched ones kept for finance staff) settle if the solidified block still proves them, and
drop if it does not. A transfer missing there is looked up by txid: in a later block it waits
for that one; no longer on chain, it is dropped (``crediting.drop_transfer``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from btt_platform import broadcast
from payments import crediting, pricing, reconciliation
from payments.chain.applying import BlockApplier
from payments.chain.blocks import MalformedAnswer, parse_block, parse_receipts
from payments.chain.verification import ChainTransfer, Refused, verify_transfers
from payments.models import ChainCursor, Payment
from payments.money import Token

# One log for the whole watcher, under the name its operators know.
log = logging.getLogger("payments.watcher")


@dataclass(frozen=True)
class Waiting:
    """A credited transfer (or one kept for finance staff, ``unmatched``) whose block was not
    solidified when it was seen."""

    txid: str
    log_index: int
    recipient: str
    token: str
    unmatched: bool = False


@dataclass(frozen=True)
class Verdict:
    """What the solidified chain says of a waiting transfer: settle it (``transfer``), drop
    it (``drop``, why), or neither yet."""

    transfer: ChainTransfer | None = None
    drop: str = ""


class Settler(BlockApplier):
    """Settles and drops what waits for solidification (the third part of a ``Watcher``)."""

    def settle(self, solid: int) -> None:
        """Resolve the credited transfers waiting in blocks up to ``solid``: still there, they
        settle; gone, they drop. The node is asked first; then each block's outcome commits in
        one transaction."""
        pending = (
            Payment.objects.filter(
                solidified_at__isnull=True, dropped_at__isnull=True, block_number__lte=solid
            )
            .order_by("block_number")
            .values_list("txid", "log_index", "block_number", "recipient", "token")
        )
        kept = (
            reconciliation.pending_unmatched()
            .filter(block_number__lte=solid)
            .values_list("txid", "log_index", "block_number", "recipient", "token")
        )
        by_block: dict[int, list[Waiting]] = {}
        for txid, log_index, number, recipient, token in pending:
            by_block.setdefault(number, []).append(Waiting(txid, log_index, recipient, token))
        for txid, log_index, number, recipient, token in kept:
            unmatched = Waiting(txid, log_index, recipient, token, unmatched=True)
            by_block.setdefault(number, []).append(unmatched)
        by_block = dict(sorted(by_block.items()))
        for number, waiting in by_block.items():
            block = parse_block(self.node.block(number, solid=True), number)
            if block is None:
                continue  # this node is behind the one that said it was solidified: later
            receipts = parse_receipts(self.node.block_transaction_infos(number, solid=True), number)
            in_block = {tx["txID"].lower(): tx for tx in block.transactions}
            verdicts: list[tuple[Waiting, Verdict]] = []
            for payment in waiting:
                self.stats.settled_checks += 1
                found = in_block.get(payment.txid)
                if found is None:
                    verdicts.append((payment, self._moved_or_gone(payment, number, solid)))
                    continue
                info = receipts.get(payment.txid)
                if info is None:
                    raise MalformedAnswer(f"block {number}: no receipt for {payment.txid}")
                verdicts.append((payment, self._verdict(payment, found, info)))
            # As a block is credited: one transaction, its events published together after it.
            with broadcast.batched(), transaction.atomic():
                for payment, verdict in verdicts:
                    if verdict.transfer is not None:
                        crediting.record_transfer(verdict.transfer, solidified=True)
                    elif verdict.drop and payment.unmatched:
                        if reconciliation.drop_unmatched(payment.txid, payment.log_index):
                            log.warning(
                                "unmatched %s#%s left the chain: %s",
                                payment.txid,
                                payment.log_index,
                                verdict.drop,
                            )
                    elif verdict.drop:
                        self._drop(payment.txid, payment.log_index, verdict.drop)
        cursor = ChainCursor.objects.get(network=self.network)
        self.raise_solid_floor(min(solid, cursor.head_block))

    def _verdict(
        self, payment: Waiting, found: Mapping[str, Any], info: Mapping[str, Any]
    ) -> Verdict:
        result = verify_transfers(
            found,
            info,
            token=Token(payment.token),
            recipients={payment.recipient},
            btt_contract=pricing.btt_contract(),
            txid=payment.txid,
        )
        if isinstance(result, Refused):
            # Final: in the solidified chain the transaction no longer proves the transfer.
            final = result.reason.final
            return Verdict(drop=f"{result.reason.value}: {result.detail}" if final else "")
        transfers = {transfer.log_index: transfer for transfer in result.transfers}
        if payment.log_index not in transfers:
            return Verdict(drop="its log is not in the solidified receipt")
        return Verdict(transfer=transfers[payment.log_index])

    def _moved_or_gone(self, payment: Waiting, number: int, solid: int) -> Verdict:
        now_in = self.node.transaction_info(payment.txid).get("blockNumber")
        if type(now_in) is not int:
            return Verdict(drop=f"not in block {number} once solidified, nor in another")
        if now_in > solid:
            log.info(
                "%s moved from block %s to %s; it settles with that one",
                payment.txid,
                number,
                now_in,
            )
            return Verdict()
        found = self.node.solid_transaction(payment.txid)
        info = self.node.solid_transaction_info(payment.txid)
        return self._verdict(payment, found, info) if found and info else Verdict()

    def _drop(self, txid: str, log_index: int, why: str) -> None:
        payment = crediting.drop_transfer(txid, log_index)
        if payment is not None and payment.dropped_at is not None:
            self.stats.dropped += 1
            log.warning(
                "%s#%s dropped from invoice %s: %s", txid, log_index, payment.invoice_id, why
            )
