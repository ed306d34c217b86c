"""The fan's checkout: the Buy button makes (or finds) the invoice, whose page says what to pay,
where and by when, offers TronLink, and follows the invoice live over ``/ws/invoice/<id>/``.

Nobody but the invoice's payer and its creator learns that an invoice exists (404 for others).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import segno
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import User
from payments import services
from payments.models import Invoice
from payments.money import BTT_TRC10_ASSET_ID, Amount, Standard, Token
from swarm.models import Content
from swarm.services import may_download


def _viewer(request: HttpRequest) -> User:
    assert isinstance(request.user, User)  # behind login_required
    return request.user


@login_required
@require_http_methods(["GET", "POST"])
def purchase(request: HttpRequest, content_id: int) -> HttpResponse:
    """GET: what buying the content means, with a button; POST: the invoice, then its page.

    Making an invoice reserves a unique amount on the creator's address, so it takes a POST;
    a fan with an unpaid invoice for the content is sent back to that one.
    """
    content = get_object_or_404(
        Content.objects.published().select_related("creator"), pk=content_id
    )
    fan = _viewer(request)
    if may_download(fan, content):
        messages.info(request, "You already have this content.")
        return redirect("content-page", content.pk)
    if request.method == "POST":
        try:
            invoice, _ = services.create_purchase_invoice(fan, content)
        except services.PaymentRefused as error:
            return render(
                request,
                "payments/purchase.html",
                {"content": content, "price": services.price_of(content), "error": error.message},
                status=error.status,
            )
        return redirect("invoice", invoice.pk)
    return render(
        request,
        "payments/purchase.html",
        {
            "content": content,
            "price": services.price_of(content),
            "open_invoice": services.open_purchase_invoice(fan, content),
        },
    )


@dataclass(frozen=True)
class PaymentTarget:
    """What a wallet needs: the amount to send (what is still owed), the token, the address."""

    remaining: Amount
    token_label: str
    contract: str  # TRC-20 contract, or "" for TRC-10
    token_id: str  # TRC-10 asset id, or ""


def _payment_target(invoice: Invoice) -> PaymentTarget:
    token = Token(invoice.token)
    trc20 = token.standard is Standard.TRC20
    owed = invoice.due - invoice.paid if invoice.paid < invoice.due else Amount.zero(token)
    return PaymentTarget(
        remaining=owed,
        token_label=token.label,
        contract=services.btt_contract() if trc20 else "",
        token_id="" if trc20 else BTT_TRC10_ASSET_ID,
    )


def address_qr_svg(address: str) -> str:
    """The address as a QR code, inline SVG. Only the address: TRON has no payment URI that
    wallets agree on for a token amount, and every wallet's scanner fills in the recipient."""
    code = segno.make(address, error="m")
    return str(
        code.svg_inline(
            scale=4,
            border=2,
            dark="#000",
            light="#fff",
            omitsize=True,  # a viewBox instead of a fixed size: the stylesheet sizes it
            svgclass="qr-code",
            lineclass=None,
            title=f"QR code of the address {address}",
        )
    )


@login_required
def invoice_page(request: HttpRequest, invoice_id: uuid.UUID) -> HttpResponse:
    invoice = Invoice.objects.select_related("creator", "content").filter(pk=invoice_id).first()
    if invoice is None or not services.may_view(_viewer(request), invoice):
        raise Http404("No such invoice.")
    target = _payment_target(invoice)
    return render(
        request,
        "payments/invoice.html",
        {
            "invoice": invoice,
            "is_payer": invoice.payer_id == request.user.pk,
            "may_accept_late": invoice.creator.user_id == request.user.pk
            and invoice.state == Invoice.State.EXPIRED
            and invoice.paid >= invoice.due,
            "target": target,
            "qr_svg": address_qr_svg(invoice.recipient),
            "seconds_left": max(0, int((invoice.expires_at - timezone.now()).total_seconds())),
            "claim_url": reverse("api-v1:claim_transaction", args=[invoice.pk]),
            "websocket": f"/ws/invoice/{invoice.pk}/",
        },
    )


@login_required
@require_POST
def accept_late(request: HttpRequest, invoice_id: uuid.UUID) -> HttpResponse:
    """The creator takes a payment in full that came after expiry (the fan gets the content)."""
    invoice = Invoice.objects.select_related("creator").filter(pk=invoice_id).first()
    if invoice is None or not services.may_view(_viewer(request), invoice):
        raise Http404("No such invoice.")
    try:
        services.accept_late_payment(_viewer(request), invoice)
    except services.NotFound as error:
        raise Http404(error.message) from error
    except services.PaymentRefused as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "Late payment accepted: the fan gets what they paid for.")
    return redirect("invoice", invoice.pk)
