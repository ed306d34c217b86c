"""Reconciliation: transfers to creators' addresses that paid no invoice, and invoices paid late,
short or over, in front of finance staff, who attach a transfer to the invoice it was meant for
or resolve an item with a note. Every action is written to the audit log.

Attaching credits the transfer exactly like a matched payment (``Payment`` is unique on txid +
log index, so it credits one invoice once, however many people click at once), then lets the
invoice's state machine (``payments.invoices``) move it: processing once paid in full, settled
once the transfer's block is solidified (now, or when the chain watcher sees it solidified).
"""

from __future__ import annotations

import uuid

from django.db import IntegrityError, transaction
from django.db.models import Exists, Max, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from accounts.models import User
from btt_platform import audit
from btt_platform.audit import AuditAction
from btt_platform.errors import Refused

# The modules, not their names: crediting calls record_unmatched from here, and an attached
# transfer is credited by the very steps that credit a matched one.
from payments import crediting, invoices
from payments.chain.verification import ChainTransfer
from payments.models import Invoice, InvoiceEvent, Payment, UnmatchedTransfer

State = Invoice.State

NOTE_MAX = 1000


class ReconciliationRefused(Refused):
    """An attach or resolve that cannot happen, with a message for the staff member."""

    status = 409


def record_unmatched(transfer: ChainTransfer, *, solidified: bool) -> UnmatchedTransfer:
    """Keep a proven transfer that paid no invoice (``crediting.record_transfer`` calls this);
    safe to call twice, and again once its block is solidified."""
    found, _ = UnmatchedTransfer.objects.get_or_create(
        txid=transfer.txid,
        log_index=transfer.log_index,
        defaults={
            "token": transfer.amount.token.value,
            "units": transfer.amount.units,
            "sender": transfer.sender,
            "recipient": transfer.recipient,
            "memo": transfer.memo[:64],
            "block_number": transfer.block_number,
            "block_time": transfer.block_time,
        },
    )
    dropped = found.state == UnmatchedTransfer.State.DROPPED
    if (
        dropped
        or found.block_number != transfer.block_number
        or (solidified and not found.solidified_at)
    ):
        # Moved to another block by a fork switch, back on the chain after it left it, or its
        # block is now solidified.
        found.block_number, found.block_time = transfer.block_number, transfer.block_time
        if solidified:
            found.solidified_at = timezone.now()
        if dropped:
            found.state, found.dropped_at = UnmatchedTransfer.State.OPEN, None
        UnmatchedTransfer.objects.filter(pk=found.pk).update(
            block_number=found.block_number,
            block_time=found.block_time,
            solidified_at=found.solidified_at,
            state=found.state,
            dropped_at=found.dropped_at,
        )
    return found


def pending_unmatched() -> QuerySet[UnmatchedTransfer]:
    """Open unmatched transfers whose block was not solidified when they were seen: the chain
    watcher settles them (solidified) or drops them (gone) like payments. One credited since
    (a claim of its txid) is the payment's to follow."""
    return open_transfers().filter(solidified_at__isnull=True)


def drop_unmatched(txid: str, log_index: int) -> UnmatchedTransfer | None:
    """The transfer left the chain before its block was solidified: it is no longer money
    anyone received, so it leaves the finance list (and can no longer be attached). If it comes
    back in a later block, ``record_unmatched`` opens it again."""
    changed = UnmatchedTransfer.objects.filter(
        txid=txid, log_index=log_index, state=UnmatchedTransfer.State.OPEN, solidified_at=None
    ).update(state=UnmatchedTransfer.State.DROPPED, dropped_at=timezone.now())
    return (
        UnmatchedTransfer.objects.filter(txid=txid, log_index=log_index).first()
        if changed
        else None
    )


def open_transfers() -> QuerySet[UnmatchedTransfer]:
    """Unmatched transfers nobody has handled, newest first. One credited meanwhile (a claim
    of its txid came later) is no longer unmatched."""
    credited = Payment.objects.filter(txid=OuterRef("txid"), log_index=OuterRef("log_index"))
    return UnmatchedTransfer.objects.filter(state=UnmatchedTransfer.State.OPEN).exclude(
        Exists(credited)
    )


def flagged_invoices() -> QuerySet[Invoice]:
    """Invoices paid late, short or over with a payment that no staff member has reviewed
    since it arrived, newest first."""
    last_review = Subquery(
        InvoiceEvent.objects.filter(invoice=OuterRef("pk"), kind=InvoiceEvent.Kind.REVIEWED)
        .order_by()
        .values("invoice")
        .annotate(at=Max("created_at"))
        .values("at")[:1]
    )
    payment_since = InvoiceEvent.objects.filter(
        invoice=OuterRef("pk"),
        kind=InvoiceEvent.Kind.PAYMENT,
        created_at__gt=OuterRef("reviewed_at"),
    )
    return (
        Invoice.objects.filter(Q(late=True) | Q(partial=True) | Q(over=True))
        .annotate(reviewed_at=last_review)
        .filter(Q(reviewed_at__isnull=True) | Exists(payment_since))
        .select_related("creator")
        .order_by("-created_at")
    )


def _invoice_key(invoice_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(invoice_id).strip())
    except ValueError as exc:
        raise ReconciliationRefused("No such invoice.") from exc


def _clean_note(note: str) -> str:
    note = note.strip()
    if len(note) > NOTE_MAX:
        raise ReconciliationRefused(f"A note is at most {NOTE_MAX} characters.")
    return note


def attach_transfer(actor: User, transfer_id: int, invoice_id: str, note: str = "") -> Payment:
    """Credit unmatched transfer ``transfer_id`` to invoice ``invoice_id``.

    The transfer leaves ``open`` through one conditional UPDATE, so of two staff members
    attaching it at once exactly one succeeds; the other gets ReconciliationRefused and nothing
    changes. An expired invoice it pays in full goes on to processing (staff accepted it).
    Raises UnmatchedTransfer.DoesNotExist, ReconciliationRefused (already handled, already
    credited, another address or token, an invoice that cannot take a payment any more).
    """
    note = _clean_note(note)
    invoice_key = _invoice_key(invoice_id)
    try:
        with transaction.atomic():
            return _attach(actor, transfer_id, invoice_key, note)
    except IntegrityError as exc:
        # A watcher or a claim credited this very transfer meanwhile.
        raise ReconciliationRefused("This transfer was credited meanwhile.") from exc


def _not_open(transfer_id: int) -> ReconciliationRefused:
    state = UnmatchedTransfer.objects.filter(pk=transfer_id).values_list("state", flat=True).get()
    if state == UnmatchedTransfer.State.DROPPED:
        return ReconciliationRefused(
            "This transfer left the chain before it was solidified: it was never received."
        )
    return ReconciliationRefused("This transfer was already attached or resolved.")


def _attach(actor: User, transfer_id: int, invoice_key: uuid.UUID, note: str) -> Payment:
    transfer = UnmatchedTransfer.objects.get(pk=transfer_id)
    # The transfer's row first: a second attach waits here for the first to commit and then
    # finds it handled, whichever invoice either of them named.
    changed = UnmatchedTransfer.objects.filter(
        pk=transfer.pk, state=UnmatchedTransfer.State.OPEN
    ).update(
        state=UnmatchedTransfer.State.ATTACHED,
        invoice_id=invoice_key,
        note=note,
        handled_by=actor,
        handled_at=timezone.now(),
    )
    if changed != 1:
        raise _not_open(transfer.pk)
    # Any refusal below rolls the UPDATE above back with the rest.
    invoice = (
        Invoice.objects.select_for_update().select_related("creator").filter(pk=invoice_key).first()
    )
    if invoice is None:
        raise ReconciliationRefused("No such invoice.")
    if invoice.recipient != transfer.recipient or invoice.token != transfer.token:
        raise ReconciliationRefused("The transfer went to another address or in another token.")
    if invoice.state not in (State.NEW, State.EXPIRED, State.PROCESSING):
        raise ReconciliationRefused(f"A {invoice.state} invoice takes no more payments.")
    if Payment.objects.filter(txid=transfer.txid, log_index=transfer.log_index).exists():
        raise ReconciliationRefused("This transfer was credited meanwhile.")
    payment = Payment.objects.create(
        invoice=invoice,
        txid=transfer.txid,
        log_index=transfer.log_index,
        token=transfer.token,
        units=transfer.units,
        sender=transfer.sender,
        recipient=transfer.recipient,
        block_number=transfer.block_number,
        block_time=transfer.block_time,
        matched_by=Payment.MatchedBy.STAFF,
        late=transfer.block_time > invoice.expires_at,
    )
    audit.record(
        actor,
        AuditAction.ATTACH,
        transfer,
        reason=note,
        detail={"invoice": str(invoice.pk), "amount": transfer.amount.decimal_string()},
    )
    crediting.credit_payment(invoice, payment)
    if invoice.state == State.EXPIRED and invoice.paid >= invoice.due:
        invoices.move_invoice(
            invoice,
            State.PROCESSING,
            actor=actor,
            txid=transfer.txid,
            reason="transfer attached by staff",
        )
    if transfer.solidified_at is not None:
        crediting.solidify_payment(payment)
    else:
        crediting.settle_if_solid(invoice, txid=transfer.txid)
    return payment


def resolve_transfer(actor: User, transfer_id: int, note: str) -> UnmatchedTransfer:
    """Close an unmatched transfer with a note (e.g. refunded by the creator, a gift). Raises
    UnmatchedTransfer.DoesNotExist and ReconciliationRefused (no note, already handled)."""
    note = _clean_note(note)
    if not note:
        raise ReconciliationRefused("Resolving needs a note saying why.")
    with transaction.atomic():
        changed = UnmatchedTransfer.objects.filter(
            pk=transfer_id, state=UnmatchedTransfer.State.OPEN
        ).update(
            state=UnmatchedTransfer.State.RESOLVED,
            note=note,
            handled_by=actor,
            handled_at=timezone.now(),
        )
        transfer = UnmatchedTransfer.objects.get(pk=transfer_id)
        if changed != 1:
            raise _not_open(transfer_id)
        audit.record(actor, AuditAction.RESOLVE_TRANSFER, transfer, reason=note)
    return transfer


def resolve_invoice(actor: User, invoice_id: str, note: str) -> Invoice:
    """Mark an invoice's late, partial or over payment as dealt with (an event in its own log
    and an audit entry); it leaves the list until another payment arrives. Raises
    ReconciliationRefused (no note, no such flagged invoice)."""
    note = _clean_note(note)
    if not note:
        raise ReconciliationRefused("Resolving needs a note saying why.")
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().filter(pk=_invoice_key(invoice_id)).first()
        if invoice is None:
            raise ReconciliationRefused("No such invoice.")
        if not (invoice.late or invoice.partial or invoice.over):
            raise ReconciliationRefused("This invoice was paid as asked: nothing to resolve.")
        invoices.log_event(
            invoice,
            InvoiceEvent.Kind.REVIEWED,
            actor=actor,
            detail={
                "note": note,
                "paid": invoice.paid.decimal_string(),
                "due": invoice.due.decimal_string(),
            },
        )
        audit.record(
            actor,
            AuditAction.RESOLVE_INVOICE,
            invoice,
            reason=note,
            detail={"paid": invoice.paid.decimal_string(), "due": invoice.due.decimal_string()},
        )
    return invoice
