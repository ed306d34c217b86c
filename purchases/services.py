"""Selling content for a price: pricing, the purchase invoice, and what its outcomes mean for
access. A settled purchase grants its content on the access ledger (at the first confirmation
for amounts under ``PAYMENTS_INSTANT_GRANT_UNITS``); a purchase whose payment leaves the chain
takes back exactly the grant it gave. Money itself is payments' business.
"""

from __future__ import annotations

from django.db.models import Q

from accounts.models import User
from btt_platform import clock
from ledger import access
from ledger import services as ledger
from ledger.models import Grant
from payments.errors import NotFound, PaymentRefused
from payments.invoices import create_invoice
from payments.models import ContentPrice, Invoice
from payments.money import Amount, Token
from payments.outcomes import Outcome
from payments.pricing import check_price, instant_grant_limit
from swarm.models import Content

State = Invoice.State


class NotForSale(PaymentRefused):
    status = 409


class AlreadyOwned(PaymentRefused):
    status = 409


# --- prices ---------------------------------------------------------------------------------


def set_content_price(user: User, content: Content, amount: Amount) -> ContentPrice:
    """Price a paid content. Raises NotFound (not the creator's), TokenNotAccepted,
    PaymentRefused (free content, not more than zero, beyond what the token can pay)."""
    if content.creator.user_id != user.pk:
        raise NotFound("No such content.")
    if content.access != Content.Access.PAID:
        raise PaymentRefused("Free content has no price.")
    check_price(amount)
    price, _ = ContentPrice.objects.update_or_create(
        content=content, defaults={"token": amount.token.value, "units": amount.units}
    )
    return price


def price_of(content: Content) -> Amount | None:
    price = ContentPrice.objects.filter(content=content).first()
    return None if price is None else price.amount


# --- the purchase invoice -------------------------------------------------------------------


def create_purchase_invoice(
    payer: User, content: Content, origin: str = ""
) -> tuple[Invoice, bool]:
    """An invoice for ``payer`` to buy ``content``, and whether it is new. ``origin`` is the
    client's address, for the per-address cap on unpaid invoices.

    A payer with an open (or processing) invoice for the content gets that one back rather than
    a second amount to pay. Raises NotForSale (free, unpublished or unpriced content; the
    creator's own), AlreadyOwned, TooManyOpenInvoices, TokenNotAccepted, NoUniqueAmount.
    """
    if content.access != Content.Access.PAID or not content.is_published:
        raise NotForSale("This content is not for sale.")
    if content.creator.user_id == payer.pk:
        raise NotForSale("This is your own content.")
    if owns(payer, content):
        raise AlreadyOwned("You already have this content.")
    price = price_of(content)
    if price is None:
        raise NotForSale("The creator has not priced this content yet.")
    current = open_purchase_invoice(payer, content)
    if current is not None:
        return current, False
    invoice = create_invoice(
        kind=Invoice.Kind.PURCHASE,
        creator=content.creator,
        amount=price,
        payer=payer,
        content=content,
        origin=origin,
    )
    return invoice, True


def owns(user: User, content: Content) -> bool:
    """Whether ``user`` may fetch ``content`` on more than a rental: a live rental does not stop
    a purchase (which credits nothing for it)."""
    decision = access.decide(user, content)
    return decision.allowed and decision.reason != Grant.Source.RENTAL


def open_purchase_invoice(payer: User, content: Content) -> Invoice | None:
    """The payer's invoice for ``content`` that is still to be paid or being proven, if any."""
    return (
        Invoice.objects.filter(payer=payer, content=content, kind=Invoice.Kind.PURCHASE)
        .filter(Q(state=State.NEW, expires_at__gt=clock.now()) | Q(state=State.PROCESSING))
        .first()
    )


def purchase_outcome(invoice: Invoice, outcome: Outcome) -> None:
    """What an outcome of a purchase invoice means for access (registered with
    ``payments.outcomes`` in ``PurchasesConfig.ready``; runs in the outcome's transaction)."""
    if invoice.payer is None or invoice.content is None:
        return
    instant = invoice.amount_due <= instant_grant_limit(Token(invoice.token))
    if outcome is Outcome.SETTLED or (outcome is Outcome.PROCESSING and instant):
        ledger.grant(invoice.payer, invoice.content, Grant.Source.PURCHASE, str(invoice.pk))
    elif outcome is Outcome.INVALID:
        # Granted at the first confirmation, then the payment left the chain.
        ledger.revoke_source(Grant.Source.PURCHASE, str(invoice.pk), "payment dropped")


def refund_purchase(invoice: Invoice, reason: str) -> int:
    """The creator refunded this purchase (a transfer back, outside the platform): the access
    it bought ends. How many grants were taken back."""
    if invoice.kind != Invoice.Kind.PURCHASE:
        raise ValueError("only a purchase is refunded here")
    return ledger.revoke_source(Grant.Source.PURCHASE, str(invoice.pk), f"refunded: {reason}")
