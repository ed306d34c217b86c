"""Invoices: pricing, creation with a unique amount, the state machine, crediting proven
transfers, claims and expiry.

Money never moves through the platform: an invoice asks the payer to send an amount of a token
to the creator's own address, and a chain watcher (or a claim) later proves that they did. The
proof is ``payments.verification``; this module decides what a proven transfer means for an
invoice. Every function is safe to run twice and from several processes at once: a transfer is
credited under the unique (txid, log index) of ``Payment``, and a state moves only through
``move_invoice``'s conditional UPDATE.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import User
from creators.models import Creator
from payments import events, reconciliation, webhooks
from payments.models import ContentPrice, Invoice, InvoiceEvent, Payment, TxClaim, UnmatchedTransfer
from payments.money import (
    BTT_TRC20_MAINNET_CONTRACT,
    BTT_TRC20_NILE_CONTRACT,
    Amount,
    Token,
)
from payments.tron import is_tron_address
from payments.verification import ChainTransfer, Refused, verify_transfers
from swarm.models import Content, Entitlement
from swarm.services import grant_entitlement, may_download

State = Invoice.State
Event = InvoiceEvent.Kind

# BTCPay's invoice life. EXPIRED -> PROCESSING: a payment that was in a block before the expiry
# but reached us after the expiry job ran (or a late payment the creator accepted).
# PROCESSING -> INVALID: the paying transaction left the chain before it was solidified.
TRANSITIONS: dict[str, frozenset[str]] = {
    State.NEW: frozenset({State.PROCESSING, State.EXPIRED, State.INVALID}),
    State.PROCESSING: frozenset({State.SETTLED, State.INVALID}),
    State.EXPIRED: frozenset({State.PROCESSING}),
    State.SETTLED: frozenset(),
    State.INVALID: frozenset(),
}

# The unique-amount tag sits in the sixth decimal (1e-6 of a token, 1e12 base units of BTT):
# low enough to cost nothing (1 BTT is a tiny fraction of a cent), high enough that a person
# can still type the amount into a phone wallet.
TAG_DECIMALS = 6
MAX_TAG = 999_999
MAX_OPEN_INVOICES_PER_PAYER = 10
MAX_CLAIMS_PER_INVOICE = 10
MEMO_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud, typed by hand
MEMO_LENGTH = 10
BLOCK_CLOCK_SLACK = timedelta(minutes=1)


# --- configuration (btt_platform/settings.py) ------------------------------------------------


def invoice_lifetime() -> timedelta:
    """``INVOICE_EXPIRY_SECONDS`` (default 15 minutes): how long a new invoice waits."""
    return timedelta(seconds=settings.INVOICE_EXPIRY_SECONDS)


def late_window() -> timedelta:
    """``INVOICE_LATE_WINDOW_SECONDS`` (default a day): how long after expiry a payment of an
    expired invoice's unique amount is still recognised (and recorded as late), and so how long
    that amount is not handed to another invoice."""
    return timedelta(seconds=settings.INVOICE_LATE_WINDOW_SECONDS)


def trc10_enabled() -> bool:
    """``PAYMENTS_TRC10_ENABLED`` (default off): accept TRC-10 BTT (BTTOLD) as well."""
    return bool(settings.PAYMENTS_TRC10_ENABLED)


def instant_grant_limit(token: Token) -> int:
    """``PAYMENTS_INSTANT_GRANT_UNITS`` ({token: base units}, default none): purchases up to
    this amount grant access at the first confirmation instead of at solidification."""
    limits: Mapping[str, int] = settings.PAYMENTS_INSTANT_GRANT_UNITS
    return int(limits.get(token.value, 0))


def btt_contract() -> str:
    """The TRC-20 BTT contract on ``TRON_NETWORK`` (``TRON_BTT_CONTRACT`` overrides it)."""
    configured: str = settings.TRON_BTT_CONTRACT
    if configured:
        return configured
    return (
        BTT_TRC20_NILE_CONTRACT if settings.TRON_NETWORK == "nile" else BTT_TRC20_MAINNET_CONTRACT
    )


def accepted_tokens() -> list[Token]:
    return [Token.BTT, Token.BTTOLD] if trc10_enabled() else [Token.BTT]


# --- errors ---------------------------------------------------------------------------------


class PaymentRefused(Exception):
    """A request the platform turns down, with the HTTP status and a message for the user."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(PaymentRefused):
    status = 404


class NotForSale(PaymentRefused):
    status = 409


class AlreadyOwned(PaymentRefused):
    status = 409


class TokenNotAccepted(PaymentRefused):
    status = 422


class TooManyOpenInvoices(PaymentRefused):
    status = 429


class NoUniqueAmount(PaymentRefused):
    """Every tag for this amount on this address is taken by an open invoice."""

    status = 503


class ClaimConflict(PaymentRefused):
    """The txid is bound to (or credited to) another invoice."""

    status = 409


class TooManyClaims(PaymentRefused):
    status = 429


class InvalidTransition(Exception):
    """A state change the table does not allow (a bug in the caller)."""


class StateConflict(Exception):
    """The invoice was not in the expected state any more: another process moved it first."""


# --- prices ---------------------------------------------------------------------------------


def set_content_price(user: User, content: Content, amount: Amount) -> ContentPrice:
    """Price a paid content. Raises NotFound (not the creator's), TokenNotAccepted,
    PaymentRefused (free content, or not more than zero)."""
    if content.creator.user_id != user.pk:
        raise NotFound("No such content.")
    if content.access != Content.Access.PAID:
        raise PaymentRefused("Free content has no price.")
    if amount.token not in accepted_tokens():
        raise TokenNotAccepted(f"{amount.token.value} is not accepted here.")
    if amount.units <= 0:
        raise PaymentRefused("A price is more than zero.")
    price, _ = ContentPrice.objects.update_or_create(
        content=content, defaults={"token": amount.token.value, "units": amount.units}
    )
    return price


def price_of(content: Content) -> Amount | None:
    price = ContentPrice.objects.filter(content=content).first()
    return None if price is None else price.amount


# --- invoices -------------------------------------------------------------------------------


def create_purchase_invoice(payer: User, content: Content) -> tuple[Invoice, bool]:
    """An invoice for ``payer`` to buy ``content``, and whether it is new.

    A payer with an open (or processing) invoice for the content gets that one back rather than
    a second amount to pay. Raises NotForSale (free, unpublished or unpriced content; the
    creator's own), AlreadyOwned, TooManyOpenInvoices, TokenNotAccepted, NoUniqueAmount.
    """
    if content.access != Content.Access.PAID or content.state not in (
        Content.State.SEEDING,
        Content.State.UNHEALTHY,
    ):
        raise NotForSale("This content is not for sale.")
    if content.creator.user_id == payer.pk:
        raise NotForSale("This is your own content.")
    if may_download(payer, content):
        raise AlreadyOwned("You already have this content.")
    price = price_of(content)
    if price is None:
        raise NotForSale("The creator has not priced this content yet.")
    current = open_purchase_invoice(payer, content)
    if current is not None:
        return current, False
    now = timezone.now()
    if (
        Invoice.objects.filter(payer=payer, state=State.NEW, expires_at__gt=now).count()
        >= MAX_OPEN_INVOICES_PER_PAYER
    ):
        raise TooManyOpenInvoices("Too many unpaid invoices; pay or let some expire first.")
    invoice = create_invoice(
        kind=Invoice.Kind.PURCHASE,
        creator=content.creator,
        amount=price,
        payer=payer,
        content=content,
    )
    return invoice, True


def open_purchase_invoice(payer: User, content: Content) -> Invoice | None:
    """The payer's invoice for ``content`` that is still to be paid or being proven, if any."""
    return (
        Invoice.objects.filter(payer=payer, content=content, kind=Invoice.Kind.PURCHASE)
        .filter(Q(state=State.NEW, expires_at__gt=timezone.now()) | Q(state=State.PROCESSING))
        .first()
    )


def create_invoice(
    *,
    kind: Invoice.Kind,
    creator: Creator,
    amount: Amount,
    payer: User | None = None,
    content: Content | None = None,
    lifetime: timedelta | None = None,
) -> Invoice:
    """A new invoice for ``amount`` plus a tag that makes it unique on the creator's address,
    open for ``lifetime`` (default ``INVOICE_EXPIRY_SECONDS``).

    Raises TokenNotAccepted, PaymentRefused (no valid payout address, nothing to pay),
    NoUniqueAmount; ValueError for a kind without what it needs (a bug in the caller).
    """
    if (kind == Invoice.Kind.PURCHASE) != (content is not None):
        raise ValueError("a purchase invoice, and only one, is for a content")
    if kind != Invoice.Kind.TIP and payer is None:
        raise ValueError("only a tip may be anonymous")
    if amount.token not in accepted_tokens():
        raise TokenNotAccepted(f"{amount.token.value} is not accepted here.")
    if amount.units <= 0:
        raise PaymentRefused("An invoice asks for more than zero.")
    recipient = creator.payout_address
    if not is_tron_address(recipient):
        raise PaymentRefused("The creator has no valid payout address.")
    for _ in range(5):
        now = timezone.now()
        try:
            with transaction.atomic():
                invoice = Invoice.objects.create(
                    kind=kind,
                    creator=creator,
                    payer=payer,
                    content=content,
                    recipient=recipient,
                    token=amount.token.value,
                    amount_due=_unique_amount(recipient, amount, now),
                    memo=_new_memo(),
                    created_at=now,
                    expires_at=now + (lifetime or invoice_lifetime()),
                )
                logged = _log(
                    invoice,
                    Event.CREATED,
                    actor=payer,
                    to_state=State.NEW,
                    detail={"price": amount.decimal_string(), "due": invoice.due.decimal_string()},
                )
                events.send_invoice_update(invoice, Event.CREATED)
                webhooks.queue_invoice_event(invoice, logged)
            return invoice
        except IntegrityError:
            # Another invoice took the same amount (or memo) between our look and our insert.
            continue
    raise NoUniqueAmount("Too many invoices at once for this creator; try again.")


def _unique_amount(recipient: str, price: Amount, now: datetime) -> int:
    step: int = 10 ** max(price.token.decimals - TAG_DECIMALS, 0)
    taken = set(
        Invoice.objects.filter(
            recipient=recipient,
            token=price.token.value,
            amount_due__gt=price.units,
            amount_due__lte=price.units + MAX_TAG * step,
        )
        .filter(
            Q(state__in=[State.NEW, State.PROCESSING])
            | Q(state=State.EXPIRED, expires_at__gte=now - late_window())
        )
        .values_list("amount_due", flat=True)
    )
    # Tags start at 1: someone who pays the listed price without an invoice must not be taken
    # for whoever happens to hold an untagged invoice.
    for tag in range(1, MAX_TAG + 1):
        candidate = price.units + tag * step
        if candidate not in taken:
            return candidate
    raise NoUniqueAmount("Every amount near this price is taken by an open invoice.")


def _new_memo() -> str:
    return "".join(secrets.choice(MEMO_ALPHABET) for _ in range(MEMO_LENGTH))


def may_view(user: User | None, invoice: Invoice) -> bool:
    """The payer and the creator see an invoice; nobody else learns it exists."""
    if user is None or not user.is_active:
        return False
    return user.pk == invoice.payer_id or user.pk == invoice.creator.user_id


def _log(
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
    one wins. Settling a purchase grants the content in the same transaction (invalidating one
    takes back a grant made at the first confirmation). Raises
    InvalidTransition (not allowed from the current state) and StateConflict (the row was not
    in the state this object says any more; reload and decide again).
    """
    old = invoice.state
    if new not in TRANSITIONS[old]:
        raise InvalidTransition(f"{old} -> {new} is not a transition of an invoice")
    with transaction.atomic():
        changed = Invoice.objects.filter(pk=invoice.pk, state=old).update(state=new, **fields)
        if changed != 1:
            raise StateConflict(f"invoice {invoice.pk} is no longer {old}")
        invoice.state = new
        for name, value in fields.items():
            setattr(invoice, name, value)
        logged = _log(
            invoice,
            Event.STATE,
            actor=actor,
            from_state=old,
            to_state=new,
            txid=txid,
            detail={"reason": reason} if reason else None,
        )
        settles = new == State.SETTLED
        if settles or (new == State.PROCESSING and _grants_at_first_confirmation(invoice)):
            _grant(invoice)
        elif new == State.INVALID:
            _revoke(invoice)  # granted at the first confirmation, then the payment dropped
        if invoice.kind in (Invoice.Kind.TIP, Invoice.Kind.PLEDGE):
            # Tips raise alerts, pledges count, in this transaction (support builds on payments).
            from support.services import invoice_moved

            invoice_moved(invoice, new)
        events.send_invoice_update(invoice, Event.STATE, txid=txid, detail=reason)
        webhooks.queue_invoice_event(invoice, logged)
    return invoice


def _grants_at_first_confirmation(invoice: Invoice) -> bool:
    return invoice.amount_due <= instant_grant_limit(Token(invoice.token))


def _grant(invoice: Invoice) -> None:
    if invoice.kind != Invoice.Kind.PURCHASE or invoice.payer is None or invoice.content is None:
        return
    grant_entitlement(
        invoice.payer, invoice.content, Entitlement.Source.PURCHASE, reference=str(invoice.pk)
    )


def _revoke(invoice: Invoice) -> None:
    if invoice.payer_id is None or invoice.content_id is None:
        return
    Entitlement.objects.filter(
        user_id=invoice.payer_id,
        content_id=invoice.content_id,
        source=Entitlement.Source.PURCHASE,
        reference=str(invoice.pk),
        revoked_at__isnull=True,
    ).update(revoked_at=timezone.now())


def expire_invoices(now: datetime | None = None) -> int:
    """Turn new invoices past their expiry ``expired``; how many. Safe to run anywhere, twice."""
    now = now or timezone.now()
    expired = 0
    for invoice in Invoice.objects.filter(state=State.NEW, expires_at__lte=now):
        try:
            move_invoice(invoice, State.EXPIRED)
        except StateConflict:
            continue  # paid (or expired by another worker) meanwhile
        expired += 1
    return expired


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
        _settle_if_solid(invoice)
    return invoice


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


def _record(transfer: ChainTransfer, solidified: bool, claim: TxClaim | None) -> Payment | None:
    existing = (
        Payment.objects.select_for_update()
        .filter(txid=transfer.txid, log_index=transfer.log_index)
        .first()
    )
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
            _solidify(existing)
        _resolve_claim(transfer.txid)
        return existing

    match = _match(transfer, claim)
    if match is None:
        _resolve_claim(transfer.txid)
        reconciliation.record_unmatched(transfer, solidified=solidified)  # for finance staff
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
    _credit(invoice, payment)
    # Kept for finance when it matched nothing, it is this payment now (a claim of its txid
    # came later): off their list, with the invoice it went to.
    UnmatchedTransfer.objects.filter(
        txid=transfer.txid, log_index=transfer.log_index, state=UnmatchedTransfer.State.OPEN
    ).update(
        state=UnmatchedTransfer.State.ATTACHED,
        invoice=invoice,
        note=f"credited when matched by its {matched_by}",
        handled_at=timezone.now(),
    )
    if solidified:
        _solidify(payment)
    _resolve_claim(transfer.txid)
    return payment


def _match(transfer: ChainTransfer, claim: TxClaim | None) -> tuple[Invoice, str] | None:
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
    # The exact unique amount is the payer's own signed choice, so it outranks a claim: a
    # claim of someone else's payment (read off the chain) cannot take what it pays for.
    by_amount = same_address.filter(amount_due=transfer.amount.units)
    found = by_amount.filter(state=State.NEW).first() or (
        by_amount.filter(state=State.EXPIRED, expires_at__gte=timezone.now() - late_window())
        .order_by("-expires_at")
        .first()
    )
    if found is not None:
        return found, Payment.MatchedBy.AMOUNT
    claim = claim or TxClaim.objects.filter(txid=transfer.txid).select_related("invoice").first()
    if claim is not None and claim.state != TxClaim.State.REFUSED:
        claimed = claim.invoice
        if (
            claimed.recipient == transfer.recipient
            and claimed.token == transfer.amount.token
            and claimed.created_at <= made_by
        ):
            return claimed, Payment.MatchedBy.CLAIM
    return None


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


def _credit(invoice: Invoice, payment: Payment) -> None:
    on_time = _update_paid(invoice)
    _log(
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
    if invoice.state == State.NEW and payment.late:
        # The expiry job had not run yet; the chain says the payment came after it.
        move_invoice(invoice, State.EXPIRED, txid=payment.txid, reason="expired before payment")
    if invoice.state in (State.NEW, State.EXPIRED) and on_time >= invoice.due:
        move_invoice(invoice, State.PROCESSING, txid=payment.txid)


def _solidify(payment: Payment) -> None:
    if payment.solidified_at is not None or payment.dropped_at is not None:
        return
    payment.solidified_at = timezone.now()
    Payment.objects.filter(pk=payment.pk).update(solidified_at=payment.solidified_at)
    invoice = (
        Invoice.objects.select_for_update().select_related("creator").get(pk=payment.invoice_id)
    )
    _log(invoice, Event.SOLIDIFIED, txid=payment.txid, log_index=payment.log_index)
    _settle_if_solid(invoice, txid=payment.txid)


def _settle_if_solid(invoice: Invoice, txid: str = "") -> None:
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
    _credit(invoice, payment)


def solidify_transfer(txid: str, log_index: int) -> Payment | None:
    """The block holding this credited transfer is solidified: settle its invoice if paid.
    Safe to call twice; None if the transfer was never credited."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().filter(txid=txid, log_index=log_index).first()
        if payment is not None:
            _solidify(payment)
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
        _log(invoice, Event.DROPPED, txid=txid, log_index=log_index)
        events.send_invoice_update(invoice, Event.DROPPED, txid=txid)
        if invoice.state == State.PROCESSING and _counted(invoice, late=False) < invoice.due:
            move_invoice(invoice, State.INVALID, txid=txid, reason="payment dropped")
    return payment


# --- claims ---------------------------------------------------------------------------------


def claim_transaction(user: User, invoice: Invoice, txid: str) -> tuple[TxClaim, bool]:
    """Bind ``txid`` to ``invoice`` (the paying page sends it once the wallet has signed) and
    queue its verification; the claim and whether it is new.

    Raises NotFound (not the payer's or creator's invoice), PaymentRefused (not a txid),
    ClaimConflict (the txid is claimed for, or credited to, another invoice), TooManyClaims.
    """
    if not may_view(user, invoice):
        raise NotFound("No such invoice.")
    txid = txid.strip().lower()
    if len(txid) != 64 or not all(c in "0123456789abcdef" for c in txid):
        raise PaymentRefused("A txid is 64 hexadecimal characters.")
    existing = TxClaim.objects.filter(txid=txid).first()
    if existing is not None:
        if existing.invoice_id != invoice.pk:
            raise ClaimConflict("This transaction is claimed for another invoice.")
        return existing, False
    if Payment.objects.filter(txid=txid).exclude(invoice=invoice).exists():
        raise ClaimConflict("This transaction already paid another invoice.")
    if invoice.claims.count() >= MAX_CLAIMS_PER_INVOICE:
        raise TooManyClaims("Too many transactions claimed for this invoice.")
    try:
        with transaction.atomic():
            claim = TxClaim.objects.create(txid=txid, invoice=invoice, claimed_by=user)
            _log(invoice, Event.CLAIMED, actor=user, txid=txid)
            queue_claim_verification(claim.pk)
    except IntegrityError:
        # The same txid was claimed concurrently; the first claim decides.
        existing = TxClaim.objects.get(txid=txid)
        if existing.invoice_id != invoice.pk:
            raise ClaimConflict("This transaction is claimed for another invoice.") from None
        return existing, False
    return claim, True


def queue_claim_verification(claim_id: int) -> None:
    """Verify the claim on a worker once this transaction commits (``payments.verify_claim``)."""
    from payments.tasks import verify_claim

    transaction.on_commit(lambda: verify_claim.delay(claim_id))


class ChainReader(Protocol):
    """What claim verification reads from a full node (java-tron's JSON answers)."""

    def transaction(self, txid: str) -> Mapping[str, Any]:
        """``wallet/gettransactionbyid``"""
        ...

    def transaction_info(self, txid: str) -> Mapping[str, Any]:
        """``wallet/gettransactioninfobyid`` (in a block, maybe not solidified)"""
        ...

    def solid_transaction_info(self, txid: str) -> Mapping[str, Any]:
        """``walletsolidity/gettransactioninfobyid`` (``{}`` until solidified)"""
        ...


def verify_claim(claim_id: int, reader: ChainReader) -> TxClaim:
    """Read the claimed transaction from the node (outside any database transaction) and apply
    the answer with ``check_claim``. Raises whatever the reader raises when the node is down."""
    claim = TxClaim.objects.get(pk=claim_id)
    found = reader.transaction(claim.txid)
    solid = reader.solid_transaction_info(claim.txid) if found else {}
    info = solid or (reader.transaction_info(claim.txid) if found else {})
    return check_claim(claim_id, found, info, solidified=bool(solid))


def check_claim(
    claim_id: int,
    transaction_json: Mapping[str, Any],
    info_json: Mapping[str, Any],
    *,
    solidified: bool,
) -> TxClaim:
    """Apply the node's answers about a claimed txid: credit what it proves, or refuse the claim
    with the reason. A transaction not in a block yet leaves the claim pending (ask again).
    Safe to call again, e.g. once the block is solidified."""
    claim = TxClaim.objects.select_related("invoice").get(pk=claim_id)
    invoice = claim.invoice
    result = verify_transfers(
        transaction_json,
        info_json,
        token=Token(invoice.token),
        recipients={invoice.recipient},
        btt_contract=btt_contract(),
        txid=claim.txid,
    )
    if isinstance(result, Refused):
        if result.reason.final:
            _refuse_claim(claim, f"{result.reason.value}: {result.detail}")
        else:
            TxClaim.objects.filter(pk=claim.pk).update(checked_at=timezone.now())
        claim.refresh_from_db()
        return claim
    for transfer in result.transfers:
        record_transfer(transfer, solidified=solidified, claim=claim)
    with transaction.atomic():
        _resolve_claim(claim.txid)
    claim.refresh_from_db()
    return claim


def _refuse_claim(claim: TxClaim, detail: str) -> None:
    with transaction.atomic():
        changed = TxClaim.objects.filter(pk=claim.pk, state=TxClaim.State.PENDING).update(
            state=TxClaim.State.REFUSED, detail=detail[:300], checked_at=timezone.now()
        )
        if changed:
            invoice = Invoice.objects.get(pk=claim.invoice_id)
            _log(invoice, Event.CLAIM_REFUSED, txid=claim.txid, detail={"reason": detail})
            events.send_invoice_update(invoice, Event.CLAIM_REFUSED, txid=claim.txid, detail=detail)


def _resolve_claim(txid: str) -> None:
    """A pending claim of a transaction that has been credited is verified if it paid the
    claimed invoice, refused if it paid another one (the claim was wrong, or someone else's)."""
    claim = TxClaim.objects.filter(txid=txid, state=TxClaim.State.PENDING).first()
    if claim is None:
        return
    credited = set(
        Payment.objects.filter(txid=txid, dropped_at__isnull=True).values_list(
            "invoice_id", flat=True
        )
    )
    if claim.invoice_id in credited:
        TxClaim.objects.filter(pk=claim.pk, state=TxClaim.State.PENDING).update(
            state=TxClaim.State.VERIFIED, checked_at=timezone.now()
        )
    elif credited:
        _refuse_claim(claim, "this transaction pays another invoice")


def abandon_claim(claim_id: int) -> TxClaim:
    """Give up on a claim whose transaction never showed up in a block: refused, nothing
    credited. Safe to call twice; a claim already decided is left as it is."""
    claim = TxClaim.objects.get(pk=claim_id)
    _refuse_claim(claim, "not_found: the transaction never appeared on chain")
    claim.refresh_from_db()
    return claim


def pending_claims() -> QuerySet[TxClaim]:
    """Claims still waiting for their transaction to be seen, oldest first."""
    return TxClaim.objects.filter(state=TxClaim.State.PENDING).order_by("created_at", "pk")


# --- for the chain watcher ------------------------------------------------------------------


def watched_addresses() -> set[str]:
    """Creator addresses with an invoice that a transfer may still pay or be late for."""
    since = timezone.now() - late_window()
    return set(
        Invoice.objects.filter(
            Q(state__in=[State.NEW, State.PROCESSING])
            | Q(state=State.EXPIRED, expires_at__gte=since)
        ).values_list("recipient", flat=True)
    )
