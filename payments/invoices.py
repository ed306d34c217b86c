"""Invoices: creation with a unique amount, the state machine, its event log, and expiry.

Money never moves through the platform: an invoice asks the payer to send an amount of a token
to the creator's own address, and a chain watcher (or a claim) later proves that they did
(``payments.crediting``). A state moves only through ``move_invoice``'s conditional UPDATE, so
every function here is safe to run twice and from several processes at once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from btt_platform import clock
from btt_platform.tron import is_tron_address
from creators.models import Creator
from payments import events
from payments.errors import (
    InvalidTransition,
    NoUniqueAmount,
    PaymentRefused,
    StateConflict,
    TooManyOpenInvoices,
)
from payments.models import Invoice, InvoiceEvent
from payments.money import Amount
from payments.outcomes import Outcome, announce
from payments.pricing import check_price, holding_tag, late_window, unique_amount
from payments.webhooks.events import queue_invoice_event

if TYPE_CHECKING:
    from swarm.models import Content

State = Invoice.State
Event = InvoiceEvent.Kind

# BTCPay's invoice life. EXPIRED -> PROCESSING: a payment that was in a block before the expiry
# but reached us after the expiry job ran (or a late payment the creator accepted).
# PROCESSING -> INVALID: the paying transaction left the chain before it was solidified.
# INVALID -> PROCESSING: that same transaction was mined again (a rebroadcast keeps its txid),
# so the invoice is paid after all; a failed or reverted transfer never comes back this way.
TRANSITIONS: dict[str, frozenset[str]] = {
    State.NEW: frozenset({State.PROCESSING, State.EXPIRED, State.INVALID}),
    State.PROCESSING: frozenset({State.SETTLED, State.INVALID}),
    State.EXPIRED: frozenset({State.PROCESSING}),
    State.SETTLED: frozenset(),
    State.INVALID: frozenset({State.PROCESSING}),
}

MAX_OPEN_INVOICES_PER_PAYER = 10
MAX_OPEN_INVOICES_PER_ORIGIN = 30
MEMO_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud, typed by hand
MEMO_LENGTH = 10


def invoice_lifetime() -> timedelta:
    """``INVOICE_EXPIRY_SECONDS`` (default 15 minutes): how long a new invoice waits."""
    return timedelta(seconds=settings.INVOICE_EXPIRY_SECONDS)


# --- invoices -------------------------------------------------------------------------------


def create_invoice(
    *,
    kind: Invoice.Kind,
    creator: Creator,
    amount: Amount,
    payer: User | None = None,
    content: Content | None = None,
    lifetime: timedelta | None = None,
    origin: str = "",
) -> Invoice:
    """A new invoice for ``amount`` plus a tag that makes it unique on the creator's address,
    open for ``lifetime`` (default ``INVOICE_EXPIRY_SECONDS``). ``origin`` is the address of
    the client that asked for it ("" when the platform asks, as at a campaign's deadline).

    Every invoice holds its tag until the late window after it closes, so unpaid invoices are
    capped per payer (``MAX_OPEN_INVOICES_PER_PAYER``) and per client address
    (``MAX_OPEN_INVOICES_PER_ORIGIN``), expired ones included while they hold their tag.

    Raises TokenNotAccepted, PaymentRefused (no valid payout address, nothing to pay, more than
    the token's supply), TooManyOpenInvoices, NoUniqueAmount; ValueError for a kind without
    what it needs (a bug in the caller).
    """
    if (kind in (Invoice.Kind.PURCHASE, Invoice.Kind.RENTAL)) != (content is not None):
        raise ValueError("a purchase or rental invoice, and only these, is for a content")
    if kind != Invoice.Kind.TIP and payer is None:
        raise ValueError("only a tip may be anonymous")
    check_price(amount)
    recipient = creator.payout_address
    if not is_tron_address(recipient):
        raise PaymentRefused("The creator has no valid payout address.")
    origin_key = _origin_key(origin) if origin else ""
    _check_caps(payer if kind != Invoice.Kind.PLEDGE else None, origin_key)
    for _ in range(5):
        now = clock.now()
        try:
            with transaction.atomic():
                invoice = Invoice.objects.create(
                    kind=kind,
                    creator=creator,
                    payer=payer,
                    content=content,
                    recipient=recipient,
                    token=amount.token.value,
                    amount_asked=amount.units,
                    amount_due=unique_amount(recipient, amount, now),
                    memo=_new_memo(),
                    created_at=now,
                    expires_at=now + (lifetime or invoice_lifetime()),
                    origin=origin_key,
                )
                logged = log_event(
                    invoice,
                    Event.CREATED,
                    actor=payer,
                    to_state=State.NEW,
                    detail={"price": amount.decimal_string(), "due": invoice.due.decimal_string()},
                )
                events.send_invoice_update(invoice, Event.CREATED)
                queue_invoice_event(invoice, logged)
            return invoice
        except IntegrityError:
            # Another invoice took the same amount (or memo) between our look and our insert.
            continue
    raise NoUniqueAmount("Too many invoices at once for this creator; try again.")


def _origin_key(origin: str) -> str:
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"invoice-origin:{origin}".encode(), hashlib.sha256).hexdigest()[:32]


def _check_caps(payer: User | None, origin_key: str) -> None:
    now = clock.now()
    # (Processing and settled invoices are paid, so amount_paid=0 leaves them out already.)
    unpaid = Invoice.objects.filter(holding_tag(now), amount_paid=0)
    if payer is not None and unpaid.filter(payer=payer).count() >= MAX_OPEN_INVOICES_PER_PAYER:
        raise TooManyOpenInvoices(
            "Too many unpaid invoices; pay one of them, or try again tomorrow."
        )
    if origin_key and unpaid.filter(origin=origin_key).count() >= MAX_OPEN_INVOICES_PER_ORIGIN:
        raise TooManyOpenInvoices("Too many unpaid invoices from this network; try again later.")


def _new_memo() -> str:
    return "".join(secrets.choice(MEMO_ALPHABET) for _ in range(MEMO_LENGTH))


def may_view(user: User | None, invoice: Invoice) -> bool:
    """The payer and the creator see an invoice; nobody else learns it exists."""
    if user is None or not user.is_active:
        return False
    return user.pk == invoice.payer_id or user.pk == invoice.creator.user_id


def log_event(
    invoice: Invoice,
    kind: str,
    *,
    actor: User | None = None,
    from_state: str = "",
    to_state: str = "",
    txid: str = "",
    log_index: int | None = None,
    detail: Mapping[str, Any] | None = None,
) -> InvoiceEvent:
    """Append an event to the invoice's log (the log is append-only; call it inside the
    transaction that did what it records)."""
    return InvoiceEvent.objects.create(
        invoice_id=invoice.pk,
        kind=kind,
        actor=actor,
        from_state=from_state,
        to_state=to_state,
        txid=txid,
        log_index=log_index,
        detail=dict(detail or {}),
    )


def watched_addresses() -> set[str]:
    """Creator addresses with an invoice that a transfer may still pay or be late for (what
    the chain watcher looks for)."""
    since = clock.now() - late_window()
    return set(
        Invoice.objects.filter(
            Q(state__in=[State.NEW, State.PROCESSING])
            | Q(state=State.EXPIRED, expires_at__gte=since)
        ).values_list("recipient", flat=True)
    )


# --- the state machine ----------------------------------------------------------------------


def move_invoice(
    invoice: Invoice,
    new: str,
    *,
    actor: User | None = None,
    txid: str = "",
    reason: str = "",
    **fields: Any,
) -> Invoice:
    """Move ``invoice`` from its current state to ``new``, logging it and telling its sockets.

    One conditional UPDATE (``WHERE state = <old>``) decides between racing processes: exactly
    one wins. The outcome is announced to the seller's handlers (``payments.outcomes``) in the
    same transaction: settling a purchase grants its content there, invalidating it takes the
    grant back. Raises
    InvalidTransition (not allowed from the current state) and StateConflict (the row was not
    in the state this object says any more; reload and decide again).
    """
    old = invoice.state
    if new not in TRANSITIONS[old]:
        raise InvalidTransition(f"{old} -> {new} is not a transition of an invoice")
    if new in (State.SETTLED, State.INVALID, State.EXPIRED):
        fields.setdefault("closed_at", timezone.now())
    with transaction.atomic():
        changed = Invoice.objects.filter(pk=invoice.pk, state=old).update(state=new, **fields)
        if changed != 1:
            raise StateConflict(f"invoice {invoice.pk} is no longer {old}")
        invoice.state = new
        for name, value in fields.items():
            setattr(invoice, name, value)
        logged = log_event(
            invoice,
            Event.STATE,
            actor=actor,
            from_state=old,
            to_state=new,
            txid=txid,
            detail={"reason": reason} if reason else None,
        )
        # What the invoice was for (a grant, an alert, a pledge) is its seller's business.
        announce(invoice, Outcome(new))
        events.send_invoice_update(invoice, Event.STATE, txid=txid, detail=reason)
        queue_invoice_event(invoice, logged)
    return invoice


def expire_invoices(now: datetime | None = None) -> int:
    """Turn new invoices past their expiry ``expired``; how many. Safe to run anywhere, twice."""
    now = now or clock.now()
    expired = 0
    for invoice in Invoice.objects.filter(state=State.NEW, expires_at__lte=now):
        try:
            move_invoice(invoice, State.EXPIRED)
        except StateConflict:
            continue  # paid (or expired by another worker) meanwhile
        expired += 1
    return expired
