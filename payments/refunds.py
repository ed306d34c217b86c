"""Proving a refund on chain: a creator says which transaction sent a buyer's money back.

The platform never holds funds, so a refund is a transfer from the creator's own wallet to the
fan's; what the platform can do is prove it. The proof reads the receipt as crediting does
(``payments.chain.verification``) and adds what a refund needs: the token of the purchase, to
the fan's address, from one of the creator's addresses, at least the amount paid, solidified.
Recording the proof (once per txid, once per purchase) is the seller's business
(``purchases.refunds``).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from payments.chain.verification import Refusal, Refused, verify_transfers
from payments.claims import ChainReader
from payments.errors import PaymentRefused
from payments.money import Amount, Token
from payments.pricing import btt_contract

TXID_HEX = frozenset("0123456789abcdef")


class RefundNotProven(PaymentRefused):
    """The transaction does not prove the refund (or not yet: ``code`` "pending")."""

    status = 409
    code = "refund_not_proven"


class RefundPending(RefundNotProven):
    """In a block, not solidified yet: asking again in a minute may prove it."""

    code = "refund_pending"


@dataclass(frozen=True)
class RefundProof:
    txid: str
    amount: Amount  # everything the transaction sent from the creator to the fan
    sender: str
    recipient: str
    block_number: int
    block_time: datetime


def normalised_txid(txid: str) -> str:
    """``txid`` as stored (64 lowercase hex characters). Raises RefundNotProven otherwise."""
    txid = txid.strip().lower()
    if len(txid) != 64 or not set(txid) <= TXID_HEX:
        raise RefundNotProven("A txid is 64 hexadecimal characters.")
    return txid


def prove_refund(
    reader: ChainReader,
    txid: str,
    *,
    token: Token,
    senders: Collection[str],
    recipient: str,
    at_least: Amount,
) -> RefundProof:
    """Read ``txid`` from the node (call it outside any database transaction) and prove that it
    moved at least ``at_least`` of ``token`` from one of ``senders`` to ``recipient``, in a
    solidified block. Raises RefundNotProven (not such a transfer, with why), RefundPending
    (not in a block, or not solidified yet) and whatever the reader raises when the node is
    down (``payments.chain.node.NodeUnavailable``)."""
    txid = normalised_txid(txid)
    if at_least.token is not token:
        raise ValueError("the amount to refund is in another token")  # a bug in the caller
    found = reader.transaction(txid)
    solid = reader.solid_transaction_info(txid) if found else {}
    info = solid or (reader.transaction_info(txid) if found else {})
    result = verify_transfers(
        found, info, token=token, recipients={recipient}, btt_contract=btt_contract(), txid=txid
    )
    if isinstance(result, Refused):
        raise _refusal(result, token, recipient)
    from_creator = [transfer for transfer in result.transfers if transfer.sender in senders]
    if not from_creator:
        raise RefundNotProven(
            "That transfer to the fan was not sent from your payout address; send the refund "
            "from the wallet that received the payment."
        )
    sent = Amount(sum(transfer.amount.units for transfer in from_creator), token)
    if sent.units < at_least.units:
        raise RefundNotProven(
            f"That transfer sends {sent.decimal_string()} {token.value}; "
            f"the fan paid {at_least.decimal_string()} {token.value}."
        )
    if not solid:
        raise RefundPending(
            "The transfer is in a block but not final yet (about a minute on TRON); record it "
            "again shortly."
        )
    first = from_creator[0]
    return RefundProof(
        txid=txid,
        amount=sent,
        sender=first.sender,
        recipient=first.recipient,
        block_number=first.block_number,
        block_time=first.block_time,
    )


def _refusal(result: Refused, token: Token, recipient: str) -> RefundNotProven:
    if result.reason in (Refusal.NOT_FOUND, Refusal.PENDING):
        return RefundPending(
            "The node does not show this transaction in a block yet; check the txid, or record "
            "it again once it is confirmed."
        )
    if result.reason is Refusal.WRONG_RECIPIENT:
        return RefundNotProven(
            f"That transaction sends {token.value} to another address, not to the fan's "
            f"{recipient}."
        )
    if result.reason in (Refusal.WRONG_TOKEN, Refusal.NO_TRANSFER):
        return RefundNotProven(f"That transaction is not a {token.value} transfer to the fan.")
    if result.reason is Refusal.FAILED:
        return RefundNotProven("That transaction failed on chain; it sent nothing.")
    if result.reason is Refusal.NODE_ERROR:
        return RefundPending("The TRON node could not answer; try again in a minute.")
    return RefundNotProven(f"That transaction does not prove a refund ({result.reason.value}).")
