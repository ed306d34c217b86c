"""Buying in the JSON API: a content's price (read by anyone, set by its creator) and the
purchase invoice (``POST /invoices``). Paying and claiming are ``payments.api``."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router

from accounts.models import User
from payments import services as payments
from payments.api import Error, InvoiceIn, InvoiceOut, PriceIn, PriceOut, invoice_out
from payments.money import Amount, AmountError
from purchases import services
from swarm.models import Content

router = Router(tags=["payments"])


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


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
def set_content_price(request: HttpRequest, content_id: int, payload: PriceIn) -> tuple[int, Any]:
    """Price your paid content; fans' new invoices ask for this plus a unique tag."""
    content = Content.objects.select_related("creator").filter(pk=content_id).first()
    if content is None:
        return 404, {"detail": "No such content."}
    try:
        amount = Amount.parse_entered(payload.amount, payload.token)
        price = services.set_content_price(_user(request), content, amount)
    except AmountError as error:
        return 422, {"detail": str(error)}
    except payments.PaymentRefused as error:
        return error.status, {"detail": error.message}
    return 200, {"content_id": content_id, "price": price.amount.to_json()}


@router.post(
    "/invoices",
    response={200: InvoiceOut, 201: InvoiceOut, 404: Error, 409: Error, 422: Error, 429: Error,
              503: Error},
)  # fmt: skip
def create_invoice(request: HttpRequest, payload: InvoiceIn) -> tuple[int, Any]:
    """An invoice to buy a content: 201 with a new one, 200 with your unpaid one for it."""
    user = _user(request)
    content = Content.objects.select_related("creator").filter(pk=payload.content_id).first()
    if content is None or (not content.is_published and content.creator.user_id != user.pk):
        return 404, {"detail": "No such content."}
    try:
        invoice, created = services.create_purchase_invoice(
            user, content, origin=request.META.get("REMOTE_ADDR", "")
        )
    except payments.PaymentRefused as error:
        return error.status, {"detail": error.message}
    return (201 if created else 200), invoice_out(invoice)
