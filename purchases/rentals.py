"""Renting content: the rent price and window, the rental invoice, and what its outcomes and
its first use mean for access.

A settled rental grants its content on the ledger until ``start_within_days`` after payment.
The first use (the web seed, the tracker, a torrent or magnet download: ``ledger.access.
decide_for_use``) starts the window: the open grant is replaced, in one transaction, by one
ending ``window_hours`` later (never later than the first). When it ends, every door refuses
through the one decision. Rules where a platform must choose:

- A rental is refused while the fan can already fetch the content (a live rental, a purchase):
  renting twice never stacks or extends; renting again after the rental ended is a new rental.
- Buying after renting is a full-price purchase; nothing paid for the rental is credited back
  (the Buy page says so before the invoice is made).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q

from accounts.models import User
from btt_platform import clock
from ledger import access
from ledger import services as ledger
from ledger.models import Grant
from payments.errors import NotFound, PaymentRefused
from payments.invoices import create_invoice
from payments.models import Invoice
from payments.money import Amount, Token
from payments.outcomes import Outcome
from payments.pricing import check_price, instant_grant_limit
from purchases.models import (
    MAX_START_DAYS,
    MAX_WINDOW_HOURS,
    MIN_START_DAYS,
    MIN_WINDOW_HOURS,
    Rental,
    RentalTerms,
)
from purchases.services import AlreadyOwned, NotForSale
from swarm.models import Content

State = Invoice.State


class NotForRent(PaymentRefused):
    status = 409


@dataclass(frozen=True)
class RentalOffer:
    """Rental terms as a creator enters them (``set_rental_terms`` checks them)."""

    amount: Amount
    window_hours: int
    start_within_days: int


def set_rental_terms(
    user: User, content: Content, amount: Amount, window_hours: int, start_within_days: int
) -> RentalTerms:
    """Offer a paid content for rent. Raises NotFound (not the creator's), TokenNotAccepted,
    PaymentRefused (free content, a price no invoice may ask, a window out of bounds)."""
    if content.creator.user_id != user.pk:
        raise NotFound("No such content.")
    if content.access != Content.Access.PAID:
        raise PaymentRefused("Free content is not rented.")
    check_price(amount)
    if not MIN_WINDOW_HOURS <= window_hours <= MAX_WINDOW_HOURS:
        raise PaymentRefused(
            f"The window is {MIN_WINDOW_HOURS} to {MAX_WINDOW_HOURS} hours from the first use."
        )
    if not MIN_START_DAYS <= start_within_days <= MAX_START_DAYS:
        raise PaymentRefused(
            f"A rental ends {MIN_START_DAYS} to {MAX_START_DAYS} days after payment at the latest."
        )
    terms, _ = RentalTerms.objects.update_or_create(
        content=content,
        defaults={
            "token": amount.token.value,
            "units": amount.units,
            "window_hours": window_hours,
            "start_within_days": start_within_days,
        },
    )
    return terms


def offer_for_rent(user: User, content: Content, offer: RentalOffer | None) -> None:
    """Set ``content``'s rental terms, or stop renting it when ``offer`` is None."""
    if offer is None:
        stop_renting(user, content)
    else:
        set_rental_terms(user, content, offer.amount, offer.window_hours, offer.start_within_days)


def stop_renting(user: User, content: Content) -> None:
    """No new rentals of ``content`` (rentals already paid run their course)."""
    if content.creator.user_id != user.pk:
        raise NotFound("No such content.")
    RentalTerms.objects.filter(content=content).delete()


def rental_terms_of(content: Content) -> RentalTerms | None:
    return RentalTerms.objects.filter(content=content).first()


def create_rental_invoice(payer: User, content: Content, origin: str = "") -> tuple[Invoice, bool]:
    """An invoice for ``payer`` to rent ``content``, and whether it is new (an open one for
    the content comes back instead of a second). Raises NotForSale (free, unpublished, the
    creator's own), NotForRent, AlreadyOwned (a live rental or a purchase), and what
    ``create_invoice`` raises."""
    if content.access != Content.Access.PAID or not content.is_published:
        raise NotForSale("This content is not for sale.")
    if content.creator.user_id == payer.pk:
        raise NotForSale("This is your own content.")
    decision = access.decide(payer, content)
    if decision.allowed and decision.reason == Grant.Source.RENTAL:
        raise AlreadyOwned("Your rental of this content is still running.")
    if decision.allowed:
        raise AlreadyOwned("You already have this content.")
    terms = rental_terms_of(content)
    if terms is None:
        raise NotForRent("This content is not offered for rent.")
    current = open_rental_invoice(payer, content)
    if current is not None:
        return current, False
    with transaction.atomic():
        invoice = create_invoice(
            kind=Invoice.Kind.RENTAL,
            creator=content.creator,
            amount=terms.amount,
            payer=payer,
            content=content,
            origin=origin,
        )
        Rental.objects.create(
            invoice=invoice,
            user=payer,
            content=content,
            window_hours=terms.window_hours,
            start_within_days=terms.start_within_days,
        )
    return invoice, True


def open_rental_invoice(payer: User, content: Content) -> Invoice | None:
    """The payer's rental invoice for ``content`` still to be paid or being proven, if any."""
    return (
        Invoice.objects.filter(payer=payer, content=content, kind=Invoice.Kind.RENTAL)
        .filter(Q(state=State.NEW, expires_at__gt=clock.now()) | Q(state=State.PROCESSING))
        .first()
    )


def rental_outcome(invoice: Invoice, outcome: Outcome) -> None:
    """What an outcome of a rental invoice means for access (registered in
    ``PurchasesConfig.ready``; runs in the outcome's transaction). Paid: a grant until the
    latest end; dropped or failed: every grant the rental gave is taken back."""
    rental = Rental.objects.filter(invoice=invoice).first()
    if rental is None or invoice.payer is None or invoice.content is None:
        return
    instant = invoice.amount_due <= instant_grant_limit(Token(invoice.token))
    if outcome is Outcome.SETTLED or (outcome is Outcome.PROCESSING and instant):
        now = clock.now()
        Rental.objects.filter(pk=rental.pk, paid_at__isnull=True).update(paid_at=now)
        rental.refresh_from_db()
        # Paid again after its transfer left the chain and came back: the rental keeps its
        # first payment time and its window, so it never gains time.
        ends_at = rental_ends_at(rental)
        if ends_at is not None and ends_at > now:
            ledger.grant(
                invoice.payer, invoice.content, Grant.Source.RENTAL, str(invoice.pk), until=ends_at
            )
    elif outcome is Outcome.INVALID:
        ledger.revoke_source(Grant.Source.RENTAL, str(invoice.pk), "payment dropped")


def start_window(grant_id: int) -> bool:
    """A door served content on rental grant ``grant_id`` (``ledger.access.on_use``): at the
    first use, the grant is replaced by one ending a window later. Whether it was replaced.
    Safe under concurrent first uses: only the one that marks the rental started replaces."""
    grant = Grant.objects.filter(pk=grant_id, revoked_at__isnull=True).first()
    if grant is None or grant.content is None:  # a standing is never used at a door
        return False
    try:
        rental = Rental.objects.filter(invoice_id=grant.source_ref).first()  # the invoice's uuid
    except ValidationError:  # a rental grant not made by a rental invoice (e.g. by staff)
        return False
    if rental is None or rental.started_at is not None:
        return False
    now = clock.now()
    until = now + rental.window
    if grant.until is not None:
        until = min(until, grant.until)
    with transaction.atomic():
        if not Rental.objects.filter(pk=rental.pk, started_at__isnull=True).update(started_at=now):
            return False
        ledger.revoke_source(Grant.Source.RENTAL, grant.source_ref, "rental window started")
        ledger.grant(grant.user, grant.content, Grant.Source.RENTAL, grant.source_ref, until=until)
    return True


def rental_ends_at(rental: Rental) -> datetime | None:
    """When the rental's access ends (None: not paid)."""
    if rental.paid_at is None:
        return None
    latest = rental.paid_at + rental.start_within
    if rental.started_at is None:
        return latest
    return min(latest, rental.started_at + rental.window)
