"""The Buy button: what buying a content means, and the purchase invoice it makes; a buyer's
refund request for content staff took down."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from accounts.http import AuthenticatedHttpRequest
from payments.errors import PaymentRefused
from purchases import refunds, rentals, services
from purchases.models import RefundRequest
from swarm.models import Content


@login_required
@require_http_methods(["GET", "POST"])
def purchase(request: AuthenticatedHttpRequest, content_id: int) -> HttpResponse:
    """GET: what buying the content means, with a button; POST: the invoice, then its page.

    Making an invoice reserves a unique amount on the creator's address, so it takes a POST;
    a fan with an unpaid invoice for the content is sent back to that one.
    """
    content = get_object_or_404(
        Content.objects.published().select_related("creator"), pk=content_id
    )
    fan = request.user
    if services.owns(fan, content):
        messages.info(request, "You already have this content.")
        return redirect("content-page", content.pk)
    if request.method == "POST":
        try:
            invoice, _ = services.create_purchase_invoice(
                fan, content, origin=request.META.get("REMOTE_ADDR", "")
            )
        except PaymentRefused as error:
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
            "rental_terms": rentals.rental_terms_of(content),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def rent(request: AuthenticatedHttpRequest, content_id: int) -> HttpResponse:
    """GET: the rent price and window, with a button; POST: the rental invoice, then its page."""
    content = get_object_or_404(
        Content.objects.published().select_related("creator"), pk=content_id
    )
    fan = request.user
    context = {
        "content": content,
        "terms": rentals.rental_terms_of(content),
        "open_invoice": rentals.open_rental_invoice(fan, content),
    }
    if request.method == "POST":
        try:
            invoice, _ = rentals.create_rental_invoice(
                fan, content, origin=request.META.get("REMOTE_ADDR", "")
            )
        except PaymentRefused as error:
            return render(
                request,
                "payments/rent.html",
                {**context, "error": error.message},
                status=error.status,
            )
        return redirect("invoice", invoice.pk)
    return render(request, "payments/rent.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def refund_request(request: AuthenticatedHttpRequest, content_id: int) -> HttpResponse:
    """A buyer of content staff took down: GET shows the request (or the form to ask the
    creator for a refund); POST asks. Anyone else is told there is nothing of theirs here."""
    fan = request.user
    content = get_object_or_404(Content.objects.select_related("creator"), pk=content_id)
    invoice = refunds.paid_purchase(fan, content)
    if invoice is None:
        raise Http404("You did not buy this content.")
    existing = RefundRequest.objects.filter(invoice=invoice).first()
    context = {
        "content": content,
        "invoice": invoice,
        "refund": existing,
        "addresses": refunds.refund_addresses(fan, invoice),
        "removed": content.state == Content.State.REMOVED,
    }
    if request.method == "POST" and existing is None:
        try:
            refunds.request_refund(
                fan,
                content.pk,
                request.POST.get("address", ""),
                request.POST.get("message", "")[: refunds.MESSAGE_MAX],
            )
        except PaymentRefused as error:
            return render(
                request,
                "purchases/refund_request.html",
                {**context, "error": error.message},
                status=error.status,
            )
        messages.success(request, "Your refund request was sent to the creator.")
        return redirect("refund-request", content.pk)
    return render(request, "purchases/refund_request.html", context)
