"""The invoice page: what to pay, where and by when (the payment block of
``payments.instructions``), TronLink, transfers that nearly paid it (``payments.near_misses``),
and the invoice followed live over ``/ws/invoice/<id>/``. (The Buy button that makes a
purchase invoice is ``purchases.views``.)

Nobody but the invoice's payer and its creator learns that an invoice exists (404 for others).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.http import AuthenticatedHttpRequest
from payments import claims, crediting, errors, instructions, invoices, near_misses
from payments.models import Invoice
from payments.money import Amount


@dataclass(frozen=True)
class PaymentTarget:
    """What TronLink needs on the invoice page: the amount still owed and the token."""

    remaining: Amount
    contract: str  # TRC-20 contract, or "" for TRC-10
    token_id: str  # TRC-10 asset id, or ""


def _payment_target(invoice: Invoice) -> PaymentTarget:
    owed = instructions.still_owed(invoice)
    contract, token_id = instructions.token_reference(owed.token)
    return PaymentTarget(remaining=owed, contract=contract, token_id=token_id)


@login_required
def invoice_page(request: AuthenticatedHttpRequest, invoice_id: uuid.UUID) -> HttpResponse:
    invoice = Invoice.objects.select_related("creator", "content").filter(pk=invoice_id).first()
    if invoice is None or not invoices.may_view(request.user, invoice):
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
            "near_misses": near_misses.near_misses_of(invoice),
            "seconds_left": max(0, int((invoice.expires_at - timezone.now()).total_seconds())),
            "claim_url": reverse("api-v1:claim_transaction", args=[invoice.pk]),
            "claim_message_template": claims.claim_message_template(invoice),
            "websocket": f"/ws/invoice/{invoice.pk}/",
        },
    )


@login_required
@require_POST
def accept_late(request: AuthenticatedHttpRequest, invoice_id: uuid.UUID) -> HttpResponse:
    """The creator takes a payment in full that came after expiry (the fan gets the content)."""
    invoice = Invoice.objects.select_related("creator").filter(pk=invoice_id).first()
    if invoice is None or not invoices.may_view(request.user, invoice):
        raise Http404("No such invoice.")
    try:
        crediting.accept_late_payment(request.user, invoice)
    except errors.NotFound as error:
        raise Http404(error.message) from error
    except errors.PaymentRefused as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "Late payment accepted: the fan gets what they paid for.")
    return redirect("invoice", invoice.pk)
