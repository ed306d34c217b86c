"""Creator webhooks in the JSON API (``/api/v1/webhooks``), for creators only.

Register an HTTPS URL and keep the ``secret`` the answer shows (this once, and after each
rotation): every delivery carries ``X-BTT-Signature: t=<unix time>,v1=<hex>``, the HMAC-SHA256
of ``"<t>.<raw body>"`` keyed with that secret, ``X-BTT-Delivery`` (the same id on every retry)
and ``X-BTT-Event``. Answer 2xx quickly; anything else is retried with back-off for about three
days. The full contract is in ``payments.webhooks``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from django.http import HttpResponse
from ninja import Field, Router, Schema

from accounts.http import AuthenticatedHttpRequest
from payments.models import Webhook, WebhookDelivery
from payments.webhooks import breaker, events, services

router = Router(tags=["webhooks"])

EventName = Literal[
    "invoice.created", "invoice.processing", "invoice.settled", "invoice.expired", "invoice.invalid"
]


class Error(Schema):
    detail: str


class WebhookIn(Schema):
    url: str = Field(max_length=500, description="https://, on a public address")
    events: list[EventName] | None = Field(None, description="default: every invoice event")
    description: str = Field("", max_length=100)


class WebhookPatch(Schema):
    url: str | None = Field(None, max_length=500)
    events: list[EventName] | None = None
    active: bool | None = None
    description: str | None = Field(None, max_length=100)


class WebhookOut(Schema):
    id: int
    url: str
    events: list[str]
    active: bool
    description: str
    created_at: datetime
    secret_rotated_at: datetime | None
    paused: bool = Field(description="its circuit breaker is open: nothing is sent until resumed")
    paused_at: datetime | None
    paused_reason: str
    consecutive_failures: int


class WebhookWithSecret(WebhookOut):
    secret: str = Field(description="signs every delivery; shown only now, keep it")


class DeliveryOut(Schema):
    delivery_id: uuid.UUID
    event: str
    state: str = Field(description="pending, delivered or failed")
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str
    delivered_at: datetime | None
    created_at: datetime
    payload: dict[str, Any]


def _webhook_out(webhook: Webhook, *, secret: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": webhook.pk,
        "url": webhook.url,
        "events": webhook.events,
        "active": webhook.active,
        "description": webhook.description,
        "created_at": webhook.created_at,
        "secret_rotated_at": webhook.secret_rotated_at,
        "paused": breaker.is_paused(webhook),
        "paused_at": webhook.paused_at,
        "paused_reason": webhook.paused_reason,
        "consecutive_failures": webhook.consecutive_failures,
    }
    if secret:
        out["secret"] = webhook.secret
    return out


def _delivery_out(delivery: WebhookDelivery) -> dict[str, Any]:
    return {
        "delivery_id": delivery.delivery_id,
        "event": delivery.event,
        "state": delivery.state,
        "attempts": delivery.attempts,
        "next_attempt_at": delivery.next_attempt_at,
        "last_attempt_at": delivery.last_attempt_at,
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "delivered_at": delivery.delivered_at,
        "created_at": delivery.created_at,
        "payload": delivery.payload,
    }


@router.get("", response={200: list[WebhookOut], 403: Error})
def list_webhooks(request: AuthenticatedHttpRequest) -> tuple[int, Any]:
    """Your webhooks (without their secrets)."""
    creator = services.creator_of(request.user)
    own = Webhook.objects.filter(creator=creator).order_by("created_at", "pk")
    return 200, [_webhook_out(webhook) for webhook in own]


@router.post("", response={201: WebhookWithSecret, 400: Error, 403: Error, 409: Error, 422: Error})
def create_webhook(request: AuthenticatedHttpRequest, payload: WebhookIn) -> tuple[int, Any]:
    """Register an endpoint; the answer holds its signing ``secret``, shown this once."""
    webhook = services.create_webhook(
        request.user, payload.url, payload.events, payload.description
    )
    return 201, _webhook_out(webhook, secret=True)


@router.patch(
    "/{webhook_id}", response={200: WebhookOut, 400: Error, 403: Error, 404: Error, 422: Error}
)
def update_webhook(
    request: AuthenticatedHttpRequest, webhook_id: int, payload: WebhookPatch
) -> tuple[int, Any]:
    """Change the URL, the events, or switch it off (``active: false``) and on again."""
    webhook = services.update_webhook(request.user, webhook_id, **payload.dict(exclude_unset=True))
    return 200, _webhook_out(webhook)


@router.delete("/{webhook_id}", response={204: None, 403: Error, 404: Error})
def delete_webhook(request: AuthenticatedHttpRequest, webhook_id: int) -> tuple[int, Any]:
    """Remove it and its deliveries; nothing more is sent to it."""
    services.delete_webhook(request.user, webhook_id)
    return 204, None


@router.post("/{webhook_id}/secret", response={200: WebhookWithSecret, 403: Error, 404: Error})
def rotate_secret(request: AuthenticatedHttpRequest, webhook_id: int) -> tuple[int, Any]:
    """A new signing secret, shown this once; the old one stops signing at once."""
    webhook = services.rotate_secret(request.user, webhook_id)
    return 200, _webhook_out(webhook, secret=True)


@router.post("/{webhook_id}/resume", response={200: WebhookOut, 403: Error, 404: Error})
def resume(request: AuthenticatedHttpRequest, webhook_id: int) -> tuple[int, Any]:
    """Close the circuit breaker of a paused endpoint; its waiting deliveries go out next."""
    webhook = services.resume_webhook(request.user, webhook_id)
    return 200, _webhook_out(webhook)


@router.get(
    "/{webhook_id}/deliveries",
    response={200: list[DeliveryOut], 400: Error, 403: Error, 404: Error},
)
def list_deliveries(
    request: AuthenticatedHttpRequest,
    response: HttpResponse,
    webhook_id: int,
    state: Literal["pending", "delivered", "failed"] | None = None,
    event: str | None = None,
    page: int = 1,
    page_size: int = services.RECENT_DELIVERIES,
) -> tuple[int, Any]:
    """The deliveries, newest first, with their attempts and the last answer: a page of them
    (``page``, ``page_size``), of one ``state`` and/or ``event`` if given. ``X-Total-Count``
    says how many match; ``Link: <...>; rel="next"`` names the next page if there is one."""
    if page < 1 or not 1 <= page_size <= services.MAX_PAGE_SIZE:
        return 400, {"detail": f"page from 1, page_size from 1 to {services.MAX_PAGE_SIZE}."}
    deliveries = services.deliveries_of(request.user, webhook_id, state=state, event=event)
    total = deliveries.count()
    start = (page - 1) * page_size
    response["X-Total-Count"] = str(total)
    if start + page_size < total:
        query = request.GET.copy()
        query["page"] = str(page + 1)
        response["Link"] = f'<{request.path}?{query.urlencode()}>; rel="next"'
    return 200, [_delivery_out(delivery) for delivery in deliveries[start : start + page_size]]


@router.post("/{webhook_id}/ping", response={202: DeliveryOut, 403: Error, 404: Error})
def ping(request: AuthenticatedHttpRequest, webhook_id: int) -> tuple[int, Any]:
    """Send a signed ``ping`` event now (tried once); its outcome shows in the deliveries."""
    delivery = events.send_ping(request.user, webhook_id)
    return 202, _delivery_out(delivery)
