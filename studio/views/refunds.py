"""The studio's refund requests: buyers of content staff took down ask for their money back;
the creator sends it from their wallet and records the transaction, which the platform proves
on chain (``purchases.refunds``)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.http import AuthenticatedHttpRequest
from creators.access import creator_required
from creators.models import Creator
from payments.chain.node import NodeUnavailable, node_client
from payments.errors import PaymentRefused
from purchases import refunds

REQUESTS_SHOWN = 200  # open ones come first, so none waits unseen behind refunded ones


def _page(
    request: HttpRequest, creator: Creator, error: tuple[int, str] | None = None, status: int = 200
) -> HttpResponse:
    return render(
        request,
        "creators/studio/refunds.html",
        {
            "requests": list(refunds.requests_for(creator)[:REQUESTS_SHOWN]),
            "error": error,  # (request id, message) of a txid just refused
        },
        status=status,
    )


@creator_required
def refund_requests(request: AuthenticatedHttpRequest, creator: Creator) -> HttpResponse:
    return _page(request, creator)


@require_POST
@creator_required
def record_refund(
    request: AuthenticatedHttpRequest, creator: Creator, request_id: int
) -> HttpResponse:
    txid = request.POST.get("txid", "")
    node = node_client()
    try:
        # The node is read outside any transaction (record_refund does, then writes briefly).
        refunds.record_refund(request.user, request_id, txid, node)
    except PaymentRefused as refusal:
        return _page(request, creator, (request_id, refusal.message), status=refusal.status)
    except NodeUnavailable:
        message = "The TRON node did not answer; nothing was recorded. Try again in a minute."
        return _page(request, creator, (request_id, message), status=503)
    finally:
        node.close()
    messages.success(request, "Refund proven on chain and recorded; the fan sees it refunded.")
    return redirect("studio-refunds")
