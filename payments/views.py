"""The invoice page: what to pay, where and by when, TronLink, and the invoice followed live over
``/ws/invoice/<id>/``. (The Buy button that makes a purchase invoice is ``purchases.views``.)

Nobody but the invoice's payer and its creator learns that an invoice exists (404 for others).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import segno
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.models import User
from payments import services
from payments.models import Invoice
from payments.money import BTT_TRC10_ASSET_ID, Amount, Standard, Token


def _viewer(request: HttpRequest) -> User:
    assert isinstance(request.user, User)  # behind login_required
    return request.user


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
            "claim_message_template": services.claim_message_template(invoice),
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
