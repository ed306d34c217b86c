"""Crediting proven transfers: which invoice a transfer pays, and what that means for it.

The proof is ``payments.chain.verification``; this module decides what a proven transfer means
for an invoice. Every function is safe to run twice and from several processes at once: a
transfer is credited under the unique (txid, log index) of ``Payment``, and a state moves only
through ``invoices.move_invoice``'s conditional UPDATE. The entry points are public, for the
chain watcher, claims and reconciliation alike: ``record_transfer``, ``credit_payment``,
``solidify_payment``, ``settle_if_solid``, ``solidify_transfer``, ``drop_transfer``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts import wallets
from accounts.models import User
from btt_platform import clock
from payments import events, near_misses, reconciliation
from payments.chain.verification import ChainTransfer
from payments.errors import NotFound, PaymentRefused
from payments.invoices import log_event, move_invoice
from payments.models import Invoice, InvoiceEvent, Payment, TxClaim, UnmatchedTransfer
from payments.money import Amount, Token
from payments.outcomes import Outcome, announce
from payments.pricing import late_window

State = Invoice.State
Event = InvoiceEvent.Kind

BLOCK_CLOCK_SLACK = timedelta(minutes=1)


# --- crediting proven transfers ---------------------------------------------------------------


def record_transfer(
    transfer: ChainTransfer, *, solidified: bool, claim: TxClaim | None = None
) -> Payment | None:
    """Credit a verified transfer to the invoice it pays; the Payment, or None if it pays none.

    Call it when the transfer's block is seen (``solidified=False``: the invoice goes
    ``processing`` once paid in full) and again once the block is solidified
    (``solidified=True``: ``settled``, and a purchase grants the content). Calling it twice,
    or from two watchers at once, credits once: (txid, log index) is unique. The invoice is
    found by, in order: the memo, the unique amount (an open invoice, else one expired within
    the late window), a claim of the txid. A transfer that pays no invoice is kept for
    reconciliation (``payments.reconciliation``); nothing is raised for it.
    """
    try:
        with transaction.atomic():
            payment = _record(transfer, solidified, claim)
    except IntegrityError:
        # Another process inserted this (txid, log index) between our look and our insert.
        payment = Payment.objects.filter(txid=transfer.txid, log_index=transfer.log_index).first()
        if payment is None:
            raise
        if solidified:
            solidify_transfer(transfer.txid, transfer.log_index)
    return payment


def record_block(transfers: Sequence[ChainTransfer], *, solidified: bool) -> list[Payment | None]:
    """Credit a block's verified transfers, as ``record_transfer`` does each, all in the
    caller's transaction (the chain watcher's, which moves its cursor past the block in it):
    the payments (None for a transfer that pays no invoice), in the transfers' order.

    Nothing is credited on its own: whatever fails, on any transfer, is raised and the caller's
    transaction takes back the whole block, which a later pass credits again, each transfer
    once. That includes an IntegrityError from another process (a claim) inserting one of the
    block's transfers first; the next pass finds its payment. No savepoint per transfer, so a
    hundred payments cost a hundred credits and not two hundred savepoints more.
    Raises TransactionManagementError outside a transaction."""
    if not transaction.get_connection().in_atomic_block:
        raise transaction.TransactionManagementError("a block is credited in one transaction")
    # Read once for the whole block what each transfer would otherwise ask on its own, and
    # usually find nothing: its payment already there, claims of its txid, a kept copy of it.
    txids = {transfer.txid for transfer in transfers}
    seen = _BlockLookups(
        payments={
            (payment.txid, payment.log_index): payment
            for payment in Payment.objects.select_for_update().filter(txid__in=txids)
        },
        claimed=set(
            TxClaim.objects.filter(txid__in=txids, state=TxClaim.State.PENDING).values_list(
                "txid", flat=True
            )
        ),
        kept=set(
            UnmatchedTransfer.objects.filter(
                txid__in=txids, state=UnmatchedTransfer.State.OPEN
            ).values_list("txid", flat=True)
        ),
    )
    return [_record(transfer, solidified, None, seen) for transfer in transfers]


@dataclass
class _BlockLookups:
    payments: dict[tuple[str, int], Payment]  # the block's transfers credited before
    claimed: set[str]  # txids with pending claims
    kept: set[str]  # txids kept for finance as matching nothing


def _record(
    transfer: ChainTransfer,
    solidified: bool,
    claim: TxClaim | None,
    seen: _BlockLookups | None = None,
) -> Payment | None:
    if seen is None:
        existing = (
            Payment.objects.select_for_update()
            .filter(txid=transfer.txid, log_index=transfer.log_index)
            .first()
        )
    else:
        existing = seen.payments.get((transfer.txid, transfer.log_index))
    # (Without claims of its txid there is nothing to resolve.)
    claimed = seen is None or transfer.txid in seen.claimed
    if existing is not None:
        if existing.dropped_at is not None:
            _reinstate(existing, transfer)
        elif existing.solidified_at is None and existing.block_number != transfer.block_number:
            # The chain switched forks and the transaction is in another block now: the
            # payment is where the chain has it (and settles when that block is solidified).
            existing.block_number, existing.block_time = transfer.block_number, transfer.block_time
            Payment.objects.filter(pk=existing.pk).update(
                block_number=existing.block_number, block_time=existing.block_time
            )
        if solidified:
            solidify_payment(existing)
        if claimed:
            resolve_claims(transfer.txid)
        return existing

    match = _match(transfer, claim)
    if match is None:
        if claimed:
            resolve_claims(transfer.txid)
        kept = reconciliation.record_unmatched(transfer, solidified=solidified)  # for finance
        # ... and for the fan whose open invoice it nearly paid (the round price, a typo).
        near_misses.tell_invoices(kept)
        return None
    invoice, matched_by = match
    invoice = Invoice.objects.select_for_update().select_related("creator").get(pk=invoice.pk)
    payment = Payment.objects.create(
        invoice=invoice,
        txid=transfer.txid,
        log_index=transfer.log_index,
        token=transfer.amount.token.value,
        units=transfer.amount.units,
        sender=transfer.sender,
        recipient=transfer.recipient,
        block_number=transfer.block_number,
        block_time=transfer.block_time,
        matched_by=matched_by,
        late=transfer.block_time > invoice.expires_at,
    )
    credit_payment(invoice, payment)
    # Kept for finance when it matched nothing, it is this payment now (a claim of its txid
    # came later): off their list, with the invoice it went to.
    if seen is None or transfer.txid in seen.kept:
        UnmatchedTransfer.objects.filter(
            txid=transfer.txid, log_index=transfer.log_index, state=UnmatchedTransfer.State.OPEN
        ).update(
            state=UnmatchedTransfer.State.ATTACHED,
            invoice=invoice,
            note=f"credited when matched by its {matched_by}",
            handled_at=timezone.now(),
        )
    if solidified:
        solidify_payment(payment)
    if claimed:
        resolve_claims(transfer.txid)
    return payment


def _match(transfer: ChainTransfer, claim: TxClaim | None) -> tuple[Invoice, str] | None:
    """The invoice ``transfer`` pays and how it was recognised, or None (finance's list).

    In order: the memo, the exact unique amount, a proven claim. An invoice that is already
    paid in full (or closed for good) takes nothing more: a repeated payment is finance's to
    return, never another invoice's "over"."""
    found = _recognise(transfer, claim)
    if found is None:
        return None
    invoice = found[0]
    if invoice.state not in (State.NEW, State.EXPIRED) or invoice.amount_paid >= invoice.amount_due:
        return None
    return found


def _recognise(transfer: ChainTransfer, claim: TxClaim | None) -> tuple[Invoice, str] | None:
    # A transfer in a block made before an invoice existed cannot pay it, however well its
    # amount fits: a watcher scanning old blocks again (restarted from an earlier block, after a
    # fork) must not hand an old transfer to a newer invoice that reuses its amount, nor may a
    # claim of an old transaction. The slack covers our clock against the block producers'.
    made_by = transfer.block_time + BLOCK_CLOCK_SLACK
    same_address = Invoice.objects.filter(
        recipient=transfer.recipient, token=transfer.amount.token.value, created_at__lte=made_by
    )
    if transfer.memo:
        by_memo = same_address.filter(memo=transfer.memo.upper()).first()
        if by_memo is not None:
            return by_memo, Payment.MatchedBy.MEMO
    # The exact unique amount is the payer's own signed choice, so it outranks a claim.
    by_amount = same_address.filter(amount_due=transfer.amount.units)
    found = by_amount.filter(state=State.NEW).first() or (
        by_amount.filter(state=State.EXPIRED, expires_at__gte=clock.now() - late_window())
        .order_by("-expires_at")
        .first()
    )
    if found is not None:
        return found, Payment.MatchedBy.AMOUNT
    # A claim counts only if its claimant proved control of the address that sent the
    # transfer: anyone can read a stranger's txid off the chain, nobody else can sign for it.
    claims = [claim] if claim is not None else list(_live_claims(transfer.txid))
    for candidate in claims:
        claimed = candidate.invoice
        if (
            candidate.state != TxClaim.State.REFUSED
            and claimed.recipient == transfer.recipient
            and claimed.token == transfer.amount.token
            and claimed.created_at <= made_by
            and proves_sender(candidate, transfer.sender)
        ):
            return claimed, Payment.MatchedBy.CLAIM
    return None


def _live_claims(txid: str) -> QuerySet[TxClaim]:
    return (
        TxClaim.objects.filter(txid=txid)
        .exclude(state=TxClaim.State.REFUSED)
        .select_related("invoice", "claimed_by")
        .order_by("created_at", "pk")
    )


def proves_sender(claim: TxClaim, sender: str) -> bool:
    """Whether ``claim``'s claimant proved control of ``sender``: they signed the claim with
    it, or verified it as their wallet in their settings."""
    if claim.signer == sender:
        return True
    return sender in wallets.verified_addresses(claim.claimed_by)


def _counted(invoice: Invoice, **filters: Any) -> Amount:
    total = Amount.zero(invoice.token)
    for units in invoice.payments.filter(dropped_at__isnull=True, **filters).values_list(
        "units", flat=True
    ):
        total += Amount(units, Token(invoice.token))
    return total


def _update_paid(invoice: Invoice) -> Amount:
    """Recompute what was paid and the partial / over / late flags from the payments; return
    what was paid in time (late payments do not move an invoice on by themselves)."""
    # One read of the payments that count (the watcher credits a hundred in a block).
    counting = invoice.payments.filter(dropped_at__isnull=True).order_by("created_at", "pk")
    paid = on_time = Amount.zero(invoice.token)
    late = False
    senders = []
    for units, was_late, sender in counting.values_list("units", "late", "sender"):
        paid += Amount(units, Token(invoice.token))
        if was_late:
            late = True
        else:
            on_time += Amount(units, Token(invoice.token))
        senders.append(sender)
    fields: dict[str, Any] = {
        "amount_paid": paid.units,
        "partial": Amount.zero(invoice.token) < paid < invoice.due,
        "over": paid > invoice.due,
        "late": late,
    }
    if senders and not invoice.payer_address:
        fields["payer_address"] = senders[0]
    Invoice.objects.filter(pk=invoice.pk).update(**fields)
    for name, value in fields.items():
        setattr(invoice, name, value)
    return on_time


def credit_payment(invoice: Invoice, payment: Payment) -> None:
    """Count a newly recorded (or reinstated) ``payment`` toward its ``invoice``, which the
    caller holds locked in its transaction: flags, log, sockets, and the move to processing
    once paid in full in time. Announces ``late`` and ``over`` to the seller."""
    was_over = invoice.over
    on_time = _update_paid(invoice)
    log_event(
        invoice,
        Event.PAYMENT,
        txid=payment.txid,
        log_index=payment.log_index,
        detail={
            "amount": payment.amount.decimal_string(),
            "paid": invoice.paid.decimal_string(),
            "due": invoice.due.decimal_string(),
            "matched_by": payment.matched_by,
            "late": payment.late,
            "sender": payment.sender,
            "block": payment.block_number,
        },
    )
    events.send_invoice_update(invoice, Event.PAYMENT, txid=payment.txid)
    if payment.late:
        announce(invoice, Outcome.LATE)
    if invoice.over and not was_over:
        announce(invoice, Outcome.OVER)
    if invoice.state == State.NEW and payment.late:
        # The expiry job had not run yet; the chain says the payment came after it.
        move_invoice(invoice, State.EXPIRED, txid=payment.txid, reason="expired before payment")
    if invoice.state in (State.NEW, State.EXPIRED, State.INVALID) and on_time >= invoice.due:
        # (INVALID only through a dropped payment mined again: ``_match`` hands no new
        # transfer to an invalid invoice.)
        move_invoice(invoice, State.PROCESSING, txid=payment.txid)


def solidify_payment(payment: Payment) -> None:
    """The block of ``payment`` (locked by the caller) is solidified: mark it, and settle its
    invoice if what is solidified now covers it. Safe to call twice."""
    if payment.solidified_at is not None or payment.dropped_at is not None:
        return
    payment.solidified_at = timezone.now()
    Payment.objects.filter(pk=payment.pk).update(solidified_at=payment.solidified_at)
    invoice = (
        Invoice.objects.select_for_update().select_related("creator").get(pk=payment.invoice_id)
    )
    log_event(invoice, Event.SOLIDIFIED, txid=payment.txid, log_index=payment.log_index)
    settle_if_solid(invoice, txid=payment.txid)


def settle_if_solid(invoice: Invoice, txid: str = "") -> None:
    """Settle a processing ``invoice`` (locked by the caller) whose solidified payments cover
    what is due; nothing otherwise."""
    if invoice.state != State.PROCESSING:
        return
    if _counted(invoice, solidified_at__isnull=False) >= invoice.due:
        move_invoice(invoice, State.SETTLED, txid=txid, settled_at=timezone.now())


def _reinstate(payment: Payment, transfer: ChainTransfer) -> None:
    # Dropped, then mined again (a rebroadcast keeps its txid): it counts once more.
    Payment.objects.filter(pk=payment.pk).update(
        dropped_at=None, block_number=transfer.block_number, block_time=transfer.block_time
    )
    payment.dropped_at = None
    invoice = (
        Invoice.objects.select_for_update().select_related("creator").get(pk=payment.invoice_id)
    )
    credit_payment(invoice, payment)


def solidify_transfer(txid: str, log_index: int) -> Payment | None:
    """The block holding this credited transfer is solidified: settle its invoice if paid.
    Safe to call twice; None if the transfer was never credited."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().filter(txid=txid, log_index=log_index).first()
        if payment is not None:
            solidify_payment(payment)
    return payment


def drop_transfer(txid: str, log_index: int) -> Payment | None:
    """The transaction of a credited, unsolidified transfer left the chain: it no longer counts,
    and an invoice it had made ``processing`` turns ``invalid``. A solidified transfer never
    drops (TRON does not roll those back), so it is left alone. Safe to call twice."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().filter(txid=txid, log_index=log_index).first()
        if payment is None or payment.dropped_at is not None or payment.solidified_at is not None:
            return payment
        payment.dropped_at = timezone.now()
        Payment.objects.filter(pk=payment.pk).update(dropped_at=payment.dropped_at)
        invoice = (
            Invoice.objects.select_for_update().select_related("creator").get(pk=payment.invoice_id)
        )
        _update_paid(invoice)
        log_event(invoice, Event.DROPPED, txid=txid, log_index=log_index)
        events.send_invoice_update(invoice, Event.DROPPED, txid=txid)
        if invoice.state == State.PROCESSING and _counted(invoice, late=False) < invoice.due:
            move_invoice(invoice, State.INVALID, txid=txid, reason="payment dropped")
    return payment


# --- late payments -------------------------------------------------------------------------


def accept_late_payment(user: User, invoice: Invoice) -> Invoice:
    """The creator takes a payment that came after expiry: the invoice goes on to processing
    (and settles when its payments are solidified). Raises NotFound (not the creator's),
    PaymentRefused (not an expired invoice paid in full)."""
    if invoice.creator.user_id != user.pk:
        raise NotFound("No such invoice.")
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if invoice.state != State.EXPIRED or invoice.paid < invoice.due:
            raise PaymentRefused("Only an expired invoice paid in full can be accepted late.")
        move_invoice(invoice, State.PROCESSING, actor=user, reason="late payment accepted")
        settle_if_solid(invoice)
    return invoice


# --- the claims of a credited transaction ----------------------------------------------------


def refuse_claim(claim: TxClaim, detail: str) -> None:
    """Refuse a pending ``claim`` with the reason (logged on its invoice and told to its
    sockets); nothing if it was decided already."""
    with transaction.atomic():
        changed = TxClaim.objects.filter(pk=claim.pk, state=TxClaim.State.PENDING).update(
            state=TxClaim.State.REFUSED, detail=detail[:300], checked_at=timezone.now()
        )
        if changed:
            invoice = Invoice.objects.get(pk=claim.invoice_id)
            log_event(invoice, Event.CLAIM_REFUSED, txid=claim.txid, detail={"reason": detail})
            events.send_invoice_update(invoice, Event.CLAIM_REFUSED, txid=claim.txid, detail=detail)


def resolve_claims(txid: str) -> None:
    """Pending claims of a transaction that has been credited are verified where it paid the
    claimed invoice, refused where it paid another one (the claim was wrong, or someone
    else's)."""
    pending = list(TxClaim.objects.filter(txid=txid, state=TxClaim.State.PENDING))
    if not pending:
        return
    credited = set(
        Payment.objects.filter(txid=txid, dropped_at__isnull=True).values_list(
            "invoice_id", flat=True
        )
    )
    for claim in pending:
        if claim.invoice_id in credited:
            TxClaim.objects.filter(pk=claim.pk, state=TxClaim.State.PENDING).update(
                state=TxClaim.State.VERIFIED, checked_at=timezone.now()
            )
        elif credited:
            refuse_claim(claim, "this transaction pays another invoice")
