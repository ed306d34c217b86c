"""The retry sweep (every 5 s): the endpoints with due deliveries that may be called now, each
given a task of its own so that one slow endpoint never holds up another's."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Min, Q
from django.utils import timezone

from payments.models import Webhook, WebhookDelivery
from payments.webhooks.breaker import breaker_cooldown
from payments.webhooks.delivery import attempt_lease, deliver_endpoint

Delivery = WebhookDelivery.State

SWEEP_ENDPOINTS = 1000  # endpoints given a task per sweep pass (5 s apart), longest waiting first


def due_endpoints(now: datetime | None = None) -> list[int]:
    """The webhooks with deliveries due by ``now`` that may be called now (not cooling down
    after their breaker opened, no attempt in flight), the longest waiting first."""
    now = now or timezone.now()
    clock = timezone.now()
    rows = (
        WebhookDelivery.objects.filter(state=Delivery.PENDING, next_attempt_at__lte=now)
        .filter(
            Q(webhook__paused_at__isnull=True)
            | Q(webhook__paused_at__lte=clock - breaker_cooldown())
            | Q(event=WebhookDelivery.PING)
        )
        .filter(Q(webhook__busy_until__isnull=True) | Q(webhook__busy_until__lt=clock))
        .values("webhook_id")
        .annotate(oldest=Min("next_attempt_at"))
        .order_by("oldest", "webhook_id")
    )
    return [row["webhook_id"] for row in rows[:SWEEP_ENDPOINTS]]


def endpoints_to_queue(now: datetime | None = None) -> list[int]:
    """``due_endpoints`` less those whose task from an earlier pass has not started yet; each
    one returned is marked queued (for a lease's length)."""
    clock = timezone.now()
    chosen: list[int] = []
    for webhook_pk in due_endpoints(now):
        marked = Webhook.objects.filter(
            Q(queued_until__isnull=True) | Q(queued_until__lt=clock), pk=webhook_pk
        ).update(queued_until=clock + attempt_lease())
        if marked == 1:
            chosen.append(webhook_pk)
    return chosen


def deliver_due(now: datetime | None = None) -> int:
    """One pass of the sweep here and now, endpoint after endpoint (at most
    ``PAYMENTS_WEBHOOK_SWEEP_PER_ENDPOINT`` each): how many were delivered. Workers fan the
    pass out instead, a task per endpoint (``payments.deliver_due_webhooks``)."""
    now = now or timezone.now()
    return sum(
        outcome == "delivered"
        for webhook_pk in due_endpoints(now)
        for outcome in deliver_endpoint(webhook_pk, now)
    )
