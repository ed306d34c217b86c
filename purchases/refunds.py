"""Refunds of purchases that staff took down: the fan asks, the creator sends, the chain proves.

The platform never holds funds, so it cannot refund anyone: the money went straight to the
creator's wallet, and a refund is the creator's transfer back to the fan's. What the platform
does is ask (a ``RefundRequest``, one per purchase), show the creator who asked, how much and
where to send it, and prove the transfer the creator names (``payments.refunds.prove_refund``)
before it tells both sides the purchase is refunded and takes back the grant it gave.

The invoice stays ``settled``: its payment to the creator happened and is final. The refund
is a transfer of its own, recorded here, unique by txid.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import User
from accounts.notifications import notify_user
from accounts.wallets import verified_addresses
from creators.models import Creator
from payments.claims import ChainReader
from payments.errors import NotFound, PaymentRefused
from payments.models import Invoice
from payments.money import Token
from payments.refunds import RefundNotProven, normalised_txid, prove_refund
from purchases.models import RefundRequest
from purchases.services import refund_purchase
from swarm.checkout import RefundOffer
from swarm.models import Content

MESSAGE_MAX = 1000


class NotRefundable(PaymentRefused):
    """Only purchases of content taken down are refunded through the platform."""

    status = 409


@dataclass(frozen=True)
class RefundAddress:
    address: str
    verified: bool  # a wallet the fan verified; else the address the payment came from


def paid_purchase(fan: User, content: Content) -> Invoice | None:
    """The fan's settled purchase of ``content`` (the latest, if they bought it twice)."""
    return (
        Invoice.objects.filter(
            payer=fan,
            content=content,
            kind=Invoice.Kind.PURCHASE,
            state=Invoice.State.SETTLED,
            amount_paid__gt=0,
        )
        .select_related("creator")
        .order_by("-settled_at", "-created_at")
        .first()
    )


def refund_addresses(fan: User, invoice: Invoice) -> list[RefundAddress]:
    """Where the fan may have the refund sent: the wallets they verified, then the address
    their payment came from. Nothing else: a stolen session must not redirect a refund."""
    verified = sorted(verified_addresses(fan))
    choices = [RefundAddress(address, True) for address in verified]
    if invoice.payer_address and invoice.payer_address not in verified:
        choices.append(RefundAddress(invoice.payer_address, False))
    return choices


def request_refund(
    fan: User, content_id: int, address: str, message: str = ""
) -> tuple[RefundRequest, bool]:
    """The fan asks the creator of a content taken down to send back what they paid; the
    request and whether it is new (asking twice returns the first). Raises NotFound (no such
    content, or the fan did not pay for it), NotRefundable (not taken down), PaymentRefused
    (an address the fan may not name)."""
    content = Content.objects.select_related("creator").filter(pk=content_id).first()
    invoice = paid_purchase(fan, content) if content is not None else None
    if content is None or invoice is None:
        raise NotFound("You did not buy this content.")
    existing = RefundRequest.objects.filter(invoice=invoice).first()
    if existing is not None:
        return existing, False
    if content.state != Content.State.REMOVED:
        raise NotRefundable(
            "Only content the moderators took down is refunded here; ask the creator directly."
        )
    choice = next((a for a in refund_addresses(fan, invoice) if a.address == address), None)
    if choice is None:
        raise PaymentRefused("Choose one of your verified wallets or the address you paid from.")
    try:
        with transaction.atomic():
            request = RefundRequest.objects.create(
                invoice=invoice,
                fan=fan,
                creator=invoice.creator,
                content=content,
                token=invoice.token,
                units=invoice.amount_paid,
                address=choice.address,
                address_verified=choice.verified,
                message=" ".join(message.split())[:MESSAGE_MAX],
            )
            notify_user(
                invoice.creator.user_id,
                "refund.requested",
                request_id=request.pk,
                content_id=content.pk,
                title=content.title,
            )
    except IntegrityError:
        # Asked twice at once: the other request won; it is the one.
        return RefundRequest.objects.get(invoice=invoice), False
    return request, True


def requests_for(creator: Creator) -> QuerySet[RefundRequest]:
    """The refund requests of ``creator``'s buyers: open ones first, newest first."""
    return (
        RefundRequest.objects.filter(creator=creator)
        .select_related("fan", "content", "invoice")
        .order_by("-state", "-created_at", "-pk")  # "refunded" sorts after "open" descending
    )


def record_refund(user: User, request_id: int, txid: str, reader: ChainReader) -> RefundRequest:
    """The creator names the transaction that sent the refund; once the node proves it (the
    purchase's token, from the creator's payout address to the request's address, at least
    the amount paid, solidified), the request is ``refunded`` and the purchase's grant is taken
    back. Reads the node first, outside any database transaction.

    Raises NotFound (not this creator's request), NotRefundable (already refunded),
    RefundNotProven / RefundPending (``payments.refunds``: a txid that proves no such refund,
    one already used for a refund, or one not final yet), and NodeUnavailable from the reader.
    """
    request = (
        RefundRequest.objects.select_related("invoice", "creator", "content")
        .filter(pk=request_id, creator__user=user)
        .first()
    )
    if request is None:
        raise NotFound("No such refund request.")
    if request.state == RefundRequest.State.REFUNDED:
        raise NotRefundable("This purchase is refunded already.")
    txid = normalised_txid(txid)
    if RefundRequest.objects.filter(txid=txid).exists():
        raise RefundNotProven("That transaction already refunds a purchase.")
    invoice = request.invoice
    # The address the payment went to, and the creator's address now: a creator who changed
    # wallets since the sale may refund from either.
    senders = {invoice.recipient, request.creator.payout_address}
    proof = prove_refund(
        reader,
        txid,
        token=Token(request.token),
        senders=senders,
        recipient=request.address,
        at_least=request.amount,
    )
    try:
        with transaction.atomic():
            changed = RefundRequest.objects.filter(
                pk=request.pk, state=RefundRequest.State.OPEN
            ).update(
                state=RefundRequest.State.REFUNDED,
                txid=proof.txid,
                refunded_units=proof.amount.units,
                refunded_at=timezone.now(),
            )
            if changed != 1:
                raise NotRefundable("This purchase is refunded already.")
            # The money is back with the fan: the access it bought ends too, should the
            # content ever be restored.
            refund_purchase(invoice, f"txid {proof.txid}")
            notify_user(
                request.fan_id,
                "refund.refunded",
                request_id=request.pk,
                content_id=request.content_id,
                title=request.content.title,
            )
    except IntegrityError as error:
        # The same txid recorded for another request at the same moment: one refund per txid.
        raise RefundNotProven("That transaction already refunds a purchase.") from error
    request.refresh_from_db()
    return request


def refund_offers(fan: User) -> dict[int, RefundOffer]:
    """Installed in ``swarm.checkout`` for the library: the removed contents ``fan`` paid for,
    with the state of their refund."""
    offers: dict[int, RefundOffer] = {}
    bought = (
        Invoice.objects.filter(
            payer=fan,
            kind=Invoice.Kind.PURCHASE,
            state=Invoice.State.SETTLED,
            amount_paid__gt=0,
            content__state=Content.State.REMOVED,
        )
        .values_list("content_id", flat=True)
        .distinct()
    )
    for content_id in bought:
        if content_id is not None:
            offers[content_id] = RefundOffer("none")
    for request in RefundRequest.objects.filter(fan=fan):
        offers[request.content_id] = RefundOffer(
            request.state, asked_at=request.created_at, refunded_at=request.refunded_at
        )
    return offers
