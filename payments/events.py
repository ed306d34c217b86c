"""What an invoice pushes to ``/ws/invoice/<id>/``: one typed payload, sent after commit."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Literal, TypedDict

from btt_platform.broadcast import broadcast

if TYPE_CHECKING:
    from payments.models import Invoice


def invoice_group(invoice_id: uuid.UUID | str) -> str:
    return f"invoice.{invoice_id}"


class InvoiceUpdate(TypedDict):
    type: Literal["invoice"]
    event: str  # InvoiceEvent.Kind of what happened: created, state, payment, ...
    id: str
    state: str
    partial: bool
    over: bool
    late: bool
    token: str
    # Amounts are strings: decimal for people, base units for wallets (never JSON numbers).
    amount_due: str
    amount_paid: str
    amount_due_units: str
    amount_paid_units: str
    txid: str
    detail: str


def invoice_update(invoice: Invoice, event: str, txid: str = "", detail: str = "") -> InvoiceUpdate:
    return {
        "type": "invoice",
        "event": event,
        "id": str(invoice.pk),
        "state": invoice.state,
        "partial": invoice.partial,
        "over": invoice.over,
        "late": invoice.late,
        "token": invoice.token,
        "amount_due": invoice.due.decimal_string(),
        "amount_paid": invoice.paid.decimal_string(),
        "amount_due_units": str(invoice.amount_due),
        "amount_paid_units": str(invoice.amount_paid),
        "txid": txid,
        "detail": detail,
    }


def send_invoice_update(invoice: Invoice, event: str, txid: str = "", detail: str = "") -> None:
    """To the payer's and the creator's sockets, once the current transaction commits."""
    broadcast(invoice_group(invoice.pk), invoice_update(invoice, event, txid, detail))
