"""Near misses: a transfer to a creator's address that paid nothing, shown on the open invoices
it may have been meant for, so that a fan who sent the round price (12.5 instead of 12.500001)
or mistyped the amount learns it at once instead of waiting in silence.

A transfer that matched nothing is kept by ``reconciliation.record_unmatched`` (for finance
staff and the creator) and is never credited from here: a near miss is information for the
fan, not money. It is attributed to an invoice that was open when the transfer's block was
made, on the same address and token, when:

- its sender is a wallet the invoice's payer is known to use (a verified wallet, or the
  sender of an earlier payment of theirs): then it is shown as "from your wallet", with its
  txid; and only on that payer's invoices, never on anyone else's;
- otherwise, when its amount is the price as asked (without the tag) or within
  ``CLOSE_PERCENT`` of the tagged amount: then it is shown on every such invoice as "a
  transfer arrived at the creator's address", naming neither the sender nor the transaction,
  since it may be another fan's.

Nothing is stored: the attribution is a function of the kept transfer and the invoices, so the
page and the socket's snapshot compute it again, and the watcher's second sight of a transfer
(at solidification) sends the same message again, which the page shows once.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal, TypedDict

from django.db.models import Q

from accounts import wallets
from btt_platform.broadcast import broadcast
from payments.events import invoice_group
from payments.models import Invoice, UnmatchedTransfer
from payments.money import Amount, Token

# Within 1 % of the amount asked: a typo in the tag digits, the round price, a rounded amount.
CLOSE_PERCENT = 1
# Our clock against the block producers' (as ``crediting`` allows for).
BLOCK_CLOCK_SLACK = timedelta(minutes=1)
# Bounds the invoices told about one unattributed transfer (a busy creator's open invoices).
MAX_INVOICES_TOLD = 20


class NearMissUpdate(TypedDict):
    """What ``/ws/invoice/<id>/`` sends about a near miss; amounts are strings."""

    type: Literal["near_miss"]
    id: str  # the invoice
    key: str  # the same transfer, whenever it is sent again
    amount: str
    token: str
    amount_due: str  # the exact amount the invoice asks for
    from_payer: bool
    txid: str  # only when from the payer's own wallet, else ""


def payer_wallets(invoice: Invoice) -> set[str]:
    """Addresses the invoice's payer is known to send from: verified wallets, and senders of
    their earlier payments."""
    if invoice.payer is None:
        return {invoice.payer_address} - {""}
    known = set(wallets.verified_addresses(invoice.payer))
    known.update(
        Invoice.objects.filter(payer_id=invoice.payer_id)
        .exclude(payer_address="")
        .values_list("payer_address", flat=True)
    )
    return known


def is_close(units: int, invoice: Invoice) -> bool:
    """The price without its tag, or within ``CLOSE_PERCENT`` of the tagged amount."""
    if units == invoice.asked.units:
        return True
    return abs(units - invoice.amount_due) * 100 <= invoice.amount_due * CLOSE_PERCENT


def _open_during(transfer: UnmatchedTransfer) -> Q:
    made = transfer.block_time
    return Q(
        recipient=transfer.recipient,
        token=transfer.token,
        created_at__lte=made + BLOCK_CLOCK_SLACK,
        expires_at__gte=made - BLOCK_CLOCK_SLACK,
    )


def attribute(transfer: UnmatchedTransfer) -> list[tuple[Invoice, bool]]:
    """The invoices ``transfer`` is shown on, each with whether it came from its payer."""
    candidates = list(
        Invoice.objects.filter(_open_during(transfer))
        .select_related("payer")
        .order_by("created_at")[: MAX_INVOICES_TOLD * 5]
    )
    mine = [invoice for invoice in candidates if transfer.sender in payer_wallets(invoice)]
    if mine:
        # Known to be this payer's: nobody else is told about it.
        return [(invoice, True) for invoice in mine][:MAX_INVOICES_TOLD]
    close = [invoice for invoice in candidates if is_close(transfer.units, invoice)]
    return [(invoice, False) for invoice in close][:MAX_INVOICES_TOLD]


def near_miss_update(
    invoice: Invoice, transfer: UnmatchedTransfer, from_payer: bool
) -> NearMissUpdate:
    return {
        "type": "near_miss",
        "id": str(invoice.pk),
        "key": f"{transfer.pk}",
        "amount": Amount(transfer.units, Token(transfer.token)).decimal_string(),
        "token": transfer.token,
        "amount_due": invoice.due.decimal_string(),
        "from_payer": from_payer,
        "txid": transfer.txid if from_payer else "",
    }


def tell_invoices(transfer: UnmatchedTransfer) -> None:
    """Send the near miss to the sockets of the invoices it is attributed to (after commit).
    Only while the transfer counts: a dropped one is nobody's near miss."""
    if transfer.state == UnmatchedTransfer.State.DROPPED:
        return
    for invoice, from_payer in attribute(transfer):
        if invoice.state == Invoice.State.NEW:
            broadcast(
                invoice_group(invoice.pk), dict(near_miss_update(invoice, transfer, from_payer))
            )


def near_misses_of(invoice: Invoice) -> list[NearMissUpdate]:
    """The near misses shown on ``invoice``'s page, oldest first."""
    made_from = invoice.created_at - BLOCK_CLOCK_SLACK
    made_until = invoice.expires_at + BLOCK_CLOCK_SLACK
    kept = UnmatchedTransfer.objects.filter(
        recipient=invoice.recipient,
        token=invoice.token,
        block_time__gte=made_from,
        block_time__lte=made_until,
        state__in=[UnmatchedTransfer.State.OPEN, UnmatchedTransfer.State.RESOLVED],
    ).order_by("block_time", "pk")[: MAX_INVOICES_TOLD * 5]
    mine = payer_wallets(invoice)
    found = []
    for transfer in kept:
        if transfer.sender in mine:
            found.append(near_miss_update(invoice, transfer, True))
        elif is_close(transfer.units, invoice) and any(
            # Close, but shown here only if no other payer is known to have sent it.
            candidate.pk == invoice.pk
            for candidate, _ in attribute(transfer)
        ):
            found.append(near_miss_update(invoice, transfer, False))
    return found
