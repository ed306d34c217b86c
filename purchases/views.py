"""The Buy button: what buying a content means, and the purchase invoice it makes."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from accounts.models import User
from ledger import access
from payments import services as payments
from purchases import services
from swarm.models import Content


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
    if access.may_fetch(fan, content):
        messages.info(request, "You already have this content.")
        return redirect("content-page", content.pk)
    if request.method == "POST":
        try:
            invoice, _ = services.create_purchase_invoice(
                fan, content, origin=request.META.get("REMOTE_ADDR", "")
            )
        except payments.PaymentRefused as error:
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
