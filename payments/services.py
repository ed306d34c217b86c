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

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts import wallets
from accounts.models import User
from creators.models import Creator
from payments import events, reconciliation, webhooks
from payments.models import Invoice, InvoiceEvent, Payment, TxClaim, UnmatchedTransfer
from payments.money import (
    BTT_TRC20_MAINNET_CONTRACT,
    BTT_TRC20_NILE_CONTRACT,
    Amount,
    Token,
)
from payments.outcomes import Outcome, announce
from payments.tron import is_tron_address
from payments.verification import ChainTransfer, Refused, verify_transfers

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

# The unique-amount tag sits in the sixth decimal (1e-6 of a token, 1e12 base units of BTT):
# low enough to cost nothing (1 BTT is a tiny fraction of a cent), high enough that a person
# can still type the amount into a phone wallet.
TAG_DECIMALS = 6
MAX_TAG = 999_999
MAX_OPEN_INVOICES_PER_PAYER = 10
MAX_OPEN_INVOICES_PER_ORIGIN = 30
# Tokens whose amounts a person reads the same way ("7.000001 BTT"): one tag space per address.
TAG_FAMILY = (Token.BTT, Token.BTTOLD)
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
    if (kind == Invoice.Kind.PURCHASE) != (content is not None):
        raise ValueError("a purchase invoice, and only one, is for a content")
    if kind != Invoice.Kind.TIP and payer is None:
        raise ValueError("only a tip may be anonymous")
    check_price(amount)
    recipient = creator.payout_address
    if not is_tron_address(recipient):
        raise PaymentRefused("The creator has no valid payout address.")
    origin_key = _origin_key(origin) if origin else ""
    _check_caps(payer if kind != Invoice.Kind.PLEDGE else None, origin_key)
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
                webhooks.queue_invoice_event(invoice, logged)
            return invoice
        except IntegrityError:
            # Another invoice took the same amount (or memo) between our look and our insert.
            continue
    raise NoUniqueAmount("Too many invoices at once for this creator; try again.")


def check_price(amount: Amount) -> None:
    """Refuse an amount no invoice may ask for: a token not accepted, nothing, or so much that
    the amount with its tag would pass the token's total supply (no wallet could ever pay it).
    Raises TokenNotAccepted and PaymentRefused."""
    if amount.token not in accepted_tokens():
        raise TokenNotAccepted(f"{amount.token.value} is not accepted here.")
    if amount.units <= 0:
        raise PaymentRefused("An amount to pay is more than zero.")
    if amount.units + MAX_TAG * _tag_step(amount.token) > amount.token.total_supply_units:
        supply = Amount(amount.token.total_supply_units, amount.token)
        raise PaymentRefused(f"That is more than all the {amount.token.value} there is ({supply}).")


def _tag_step(token: Token) -> int:
    step: int = 10 ** max(token.decimals - TAG_DECIMALS, 0)
    return step


def _holding_tag(now: datetime) -> Q:
    """Invoices whose unique amount is still theirs: open or being proven, or closed (settled,
    invalid, expired) less than the late window ago. A payment repeated within that window (a
    double tap, a wallet's "send again") then finds no other fan's invoice at that amount."""
    return Q(state__in=[State.NEW, State.PROCESSING]) | Q(closed_at__gte=now - late_window())


def _origin_key(origin: str) -> str:
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"invoice-origin:{origin}".encode(), hashlib.sha256).hexdigest()[:32]


def _check_caps(payer: User | None, origin_key: str) -> None:
    now = timezone.now()
    # (Processing and settled invoices are paid, so amount_paid=0 leaves them out already.)
    unpaid = Invoice.objects.filter(_holding_tag(now), amount_paid=0)
    if payer is not None and unpaid.filter(payer=payer).count() >= MAX_OPEN_INVOICES_PER_PAYER:
        raise TooManyOpenInvoices(
            "Too many unpaid invoices; pay one of them, or try again tomorrow."
        )
    if origin_key and unpaid.filter(origin=origin_key).count() >= MAX_OPEN_INVOICES_PER_ORIGIN:
        raise TooManyOpenInvoices("Too many unpaid invoices from this network; try again later.")


def _unique_amount(recipient: str, price: Amount, now: datetime) -> int:
    """``price`` plus the lowest free tag on ``recipient``. BTT and BTTOLD share one tag space:
    an amount shown as 7.000001 belongs to one invoice on the address, whatever the token."""
    step = _tag_step(price.token)
    top = price.units + MAX_TAG * step
    holding = Invoice.objects.filter(_holding_tag(now), recipient=recipient)
    taken: set[int] = set()  # amounts held, in ``price.token``'s base units
    for token in TAG_FAMILY if price.token in TAG_FAMILY else (price.token,):
        scale = 10**token.decimals
        low = price.units * scale // 10**price.token.decimals
        high = top * scale // 10**price.token.decimals
        for units in holding.filter(
            token=token.value, amount_due__gte=low, amount_due__lte=high
        ).values_list("amount_due", flat=True):
            # The same decimal number in this token's units (exact when it has one).
            same, rest = divmod(units * 10**price.token.decimals, scale)
            if rest == 0:
                taken.add(same)
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
        webhooks.queue_invoice_event(invoice, logged)
    return invoice


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
        settle_if_solid(invoice)
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
            solidify_payment(existing)
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
    credit_payment(invoice, payment)
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
        solidify_payment(payment)
    _resolve_claim(transfer.txid)
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
        by_amount.filter(state=State.EXPIRED, expires_at__gte=timezone.now() - late_window())
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


# --- claims ---------------------------------------------------------------------------------


class ProofRequired(PaymentRefused):
    """A claim came with no signature, and the claimant has no verified wallet."""

    status = 400


def claim_message_template(invoice: Invoice) -> str:
    """What the sending wallet signs to claim a transaction for ``invoice``: this text with
    ``{txid}`` replaced by the transaction id (lowercase hex). It names the site, the invoice
    and the transaction, so a signature proves nothing about any other claim."""
    host = urlsplit(settings.SITE_URL).netloc or "this site"
    return f"{host}: transaction {{txid}} pays invoice {invoice.pk}"


def claim_message(invoice: Invoice, txid: str) -> str:
    return claim_message_template(invoice).replace("{txid}", txid)


def claim_transaction(
    user: User, invoice: Invoice, txid: str, signature: str = ""
) -> tuple[TxClaim, bool]:
    """Say that ``txid`` pays ``invoice`` (the paying page sends it once the wallet has sent
    the transaction, signed by the sending wallet) and queue its verification; the claim and
    whether it is new.

    The proof is ``signature``: the sending address's signature (TIP-191) of
    ``claim_message(invoice, txid)``; without one, the claimant's verified wallets stand in for
    it. A claim credits the transfer only if it was sent from a proven address, and it never
    stops anyone else's claim of the same txid.

    Raises NotFound (not the payer's or creator's invoice), PaymentRefused (not a txid, a
    signature that does not sign this claim), ProofRequired, ClaimConflict (the transaction
    already paid another invoice), TooManyClaims.
    """
    if not may_view(user, invoice):
        raise NotFound("No such invoice.")
    txid = txid.strip().lower()
    if len(txid) != 64 or not all(c in "0123456789abcdef" for c in txid):
        raise PaymentRefused("A txid is 64 hexadecimal characters.")
    signer = ""
    if signature:
        signer = wallets.signer_of(claim_message(invoice, txid), signature) or ""
        if not signer:
            raise PaymentRefused("The signature does not sign this claim.")
    elif not wallets.verified_addresses(user):
        raise ProofRequired(
            "Sign the claim with the wallet that sent the payment, or verify that wallet in "
            "your settings first. A payment of the exact amount needs no claim."
        )
    existing = TxClaim.objects.filter(txid=txid, invoice=invoice).first()
    if existing is not None:
        return existing, False
    if Payment.objects.filter(txid=txid).exclude(invoice=invoice).exists():
        raise ClaimConflict("This transaction already paid another invoice.")
    if invoice.claims.count() >= MAX_CLAIMS_PER_INVOICE:
        raise TooManyClaims("Too many transactions claimed for this invoice.")
    try:
        with transaction.atomic():
            claim = TxClaim.objects.create(
                txid=txid, invoice=invoice, claimed_by=user, signer=signer
            )
            log_event(invoice, Event.CLAIMED, actor=user, txid=txid, detail={"signer": signer})
            queue_claim_verification(claim.pk)
    except IntegrityError:  # the same claim, made concurrently
        return TxClaim.objects.get(txid=txid, invoice=invoice), False
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
    if not any(proves_sender(claim, transfer.sender) for transfer in result.transfers):
        # Someone else's transfer: it is left to whatever it pays (or to finance), untouched.
        _refuse_claim(claim, "not_yours: the transfer was not sent from a wallet you proved")
        claim.refresh_from_db()
        return claim
    for transfer in result.transfers:
        record_transfer(transfer, solidified=solidified, claim=claim)
    with transaction.atomic():
        _resolve_claim(claim.txid)
        if not Payment.objects.filter(txid=claim.txid, invoice_id=invoice.pk).exists():
            _refuse_claim(
                claim,
                "not_credited: the invoice takes no more payments; the transfer is kept for "
                "the creator to return",
            )
    claim.refresh_from_db()
    return claim


def _refuse_claim(claim: TxClaim, detail: str) -> None:
    with transaction.atomic():
        changed = TxClaim.objects.filter(pk=claim.pk, state=TxClaim.State.PENDING).update(
            state=TxClaim.State.REFUSED, detail=detail[:300], checked_at=timezone.now()
        )
        if changed:
            invoice = Invoice.objects.get(pk=claim.invoice_id)
            log_event(invoice, Event.CLAIM_REFUSED, txid=claim.txid, detail={"reason": detail})
            events.send_invoice_update(invoice, Event.CLAIM_REFUSED, txid=claim.txid, detail=detail)


def _resolve_claim(txid: str) -> None:
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
