"""Buying and renting in the JSON API: a content's price and rental terms (read by anyone, set by
its creator), the purchase invoice (``POST /invoices``) and the rental invoice (``POST
/rentals``). Paying and claiming are ``payments.api``."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema

from accounts.http import AuthenticatedHttpRequest
from payments.api import (
    Error,
    InvoiceIn,
    InvoiceOut,
    MoneyOut,
    PriceIn,
    PriceOut,
    invoice_out,
)
from payments.money import Amount, AmountError
from purchases import rentals, services
from purchases.models import (
    MAX_START_DAYS,
    MAX_WINDOW_HOURS,
    MIN_START_DAYS,
    MIN_WINDOW_HOURS,
    RentalTerms,
)
from swarm.models import Content

router = Router(tags=["payments"])


class RentalTermsIn(PriceIn):
    window_hours: int = Field(
        48, ge=MIN_WINDOW_HOURS, le=MAX_WINDOW_HOURS, description="hours from the first use"
    )
    start_within_days: int = Field(
        30,
        ge=MIN_START_DAYS,
        le=MAX_START_DAYS,
        description="days from payment after which the rental ends, started or not",
    )


class RentalTermsOut(Schema):
    content_id: int
    price: MoneyOut
    window_hours: int
    start_within_days: int


def rental_terms_out(terms: RentalTerms) -> dict[str, Any]:
    return {
        "content_id": terms.content_id,
        "price": terms.amount.to_json(),
        "window_hours": terms.window_hours,
        "start_within_days": terms.start_within_days,
    }


@router.get("/contents/{content_id}/price", response={200: PriceOut, 404: Error}, auth=None)
def content_price(request: HttpRequest, content_id: int) -> tuple[int, Any]:
    """What a published paid content costs (before the invoice's unique tag)."""
    content = Content.objects.published().filter(pk=content_id).first()
    price = None if content is None else services.price_of(content)
    if price is None:
        return 404, {"detail": "No price for this content."}
    return 200, {"content_id": content_id, "price": price.to_json()}


@router.put(
    "/contents/{content_id}/price", response={200: PriceOut, 400: Error, 404: Error, 422: Error}
)
def set_content_price(
    request: AuthenticatedHttpRequest, content_id: int, payload: PriceIn
) -> tuple[int, Any]:
    """Price your paid content; fans' new invoices ask for this plus a unique tag."""
    content = Content.objects.select_related("creator").filter(pk=content_id).first()
    if content is None:
        return 404, {"detail": "No such content."}
    try:
        amount = Amount.parse_entered(payload.amount, payload.token)
    except AmountError as error:
        return 422, {"detail": str(error)}
    price = services.set_content_price(request.user, content, amount)
    return 200, {"content_id": content_id, "price": price.amount.to_json()}


@router.post(
    "/invoices",
    response={200: InvoiceOut, 201: InvoiceOut, 404: Error, 409: Error, 422: Error, 429: Error,
              503: Error},
)  # fmt: skip
def create_invoice(request: AuthenticatedHttpRequest, payload: InvoiceIn) -> tuple[int, Any]:
    """An invoice to buy a content: 201 with a new one, 200 with your unpaid one for it."""
    user = request.user
    content = Content.objects.select_related("creator").filter(pk=payload.content_id).first()
    if content is None or (not content.is_published and content.creator.user_id != user.pk):
        return 404, {"detail": "No such content."}
    invoice, created = services.create_purchase_invoice(
        user, content, origin=request.META.get("REMOTE_ADDR", "")
    )
    return (201 if created else 200), invoice_out(invoice)


@router.get("/contents/{content_id}/rental", response={200: RentalTermsOut, 404: Error}, auth=None)
def content_rental_terms(request: HttpRequest, content_id: int) -> tuple[int, Any]:
    """What renting a published paid content costs, and how long a rental lasts."""
    content = Content.objects.published().filter(pk=content_id).first()
    terms = None if content is None else rentals.rental_terms_of(content)
    if terms is None:
        return 404, {"detail": "This content is not offered for rent."}
    return 200, rental_terms_out(terms)


@router.put(
    "/contents/{content_id}/rental",
    response={200: RentalTermsOut, 400: Error, 404: Error, 422: Error},
)
def set_content_rental_terms(
    request: AuthenticatedHttpRequest, content_id: int, payload: RentalTermsIn
) -> tuple[int, Any]:
    """Offer your paid content for rent: the rent price and the window."""
    content = Content.objects.select_related("creator").filter(pk=content_id).first()
    if content is None:
        return 404, {"detail": "No such content."}
    try:
        amount = Amount.parse_entered(payload.amount, payload.token)
    except AmountError as error:
        return 422, {"detail": str(error)}
    terms = rentals.set_rental_terms(
        request.user, content, amount, payload.window_hours, payload.start_within_days
    )
    return 200, rental_terms_out(terms)


@router.delete("/contents/{content_id}/rental", response={204: None, 404: Error})
def stop_renting(request: AuthenticatedHttpRequest, content_id: int) -> tuple[int, Any]:
    """Rent your content no more (rentals already paid run their course)."""
    content = Content.objects.select_related("creator").filter(pk=content_id).first()
    if content is None:
        return 404, {"detail": "No such content."}
    rentals.stop_renting(request.user, content)
    return 204, None


@router.post(
    "/rentals",
    response={200: InvoiceOut, 201: InvoiceOut, 404: Error, 409: Error, 422: Error, 429: Error,
              503: Error},
)  # fmt: skip
def create_rental_invoice(request: AuthenticatedHttpRequest, payload: InvoiceIn) -> tuple[int, Any]:
    """An invoice to rent a content: 201 with a new one, 200 with your unpaid one for it; 409
    while your rental of it runs (renting again neither stacks nor extends)."""
    user = request.user
    content = Content.objects.select_related("creator").filter(pk=payload.content_id).first()
    if content is None or (not content.is_published and content.creator.user_id != user.pk):
        return 404, {"detail": "No such content."}
    invoice, created = rentals.create_rental_invoice(
        user, content, origin=request.META.get("REMOTE_ADDR", "")
    )
    return (201 if created else 200), invoice_out(invoice)
