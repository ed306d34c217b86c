"""Delivering: one attempt at a delivery, or at an endpoint's due deliveries one after another.

Each attempt first claims the row with a conditional UPDATE, so two workers never send the same
delivery at once and a delivered one is never sent again; one attempt is in flight per endpoint
at a time (a lease on the ``Webhook`` row). The network call is made outside any database
transaction. A failed attempt is tried again after ``PAYMENTS_WEBHOOK_RETRY_SECONDS``; after the
last one the delivery is ``failed``."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import httpx
from django.conf import settings
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from payments.models import Webhook, WebhookDelivery
from payments.webhooks.breaker import endpoint_answered, endpoint_failed, is_paused, trial_due
from payments.webhooks.errors import UnsafeUrl
from payments.webhooks.signing import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    USER_AGENT,
    body_of,
    signature,
)
from payments.webhooks.transport import post, request_timeout

Delivery = WebhookDelivery.State


def retry_delays() -> list[timedelta]:
    """``PAYMENTS_WEBHOOK_RETRY_SECONDS``: the wait after each failed attempt; one attempt more
    than there are waits."""
    return [timedelta(seconds=value) for value in settings.PAYMENTS_WEBHOOK_RETRY_SECONDS]


def max_attempts() -> int:
    return len(retry_delays()) + 1


def per_endpoint_batch() -> int:
    return int(settings.PAYMENTS_WEBHOOK_SWEEP_PER_ENDPOINT)


def attempt_lease() -> timedelta:
    """How long a claimed attempt holds its delivery before another worker may take it."""
    # Longer than any one attempt can take (connect, write, read, each up to the timeout).
    return timedelta(seconds=request_timeout() * 4 + 30)


def _claim(delivery_pk: int, now: datetime) -> int | None:
    """Take the delivery for one attempt; the attempt's number, or None when it is not due,
    already delivered or given up, or being sent by another worker (whose lease holds)."""
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_pk, state=Delivery.PENDING, next_attempt_at__lte=now
    ).update(attempts=F("attempts") + 1, next_attempt_at=now + attempt_lease(), last_attempt_at=now)
    if claimed != 1:
        return None
    attempts = (
        WebhookDelivery.objects.filter(pk=delivery_pk).values_list("attempts", flat=True).first()
    )
    return attempts


def _take_endpoint(webhook_pk: int, held: datetime | None = None) -> datetime | None:
    """The endpoint's lease for one attempt (when it runs out), renewed if ``held`` is ours; None
    while another attempt holds it. Wall-clock time, whatever clock deliveries are due by."""
    clock = timezone.now()
    until = clock + attempt_lease()
    free = Q(busy_until=held) if held else Q(busy_until__isnull=True) | Q(busy_until__lt=clock)
    taken = Webhook.objects.filter(free, pk=webhook_pk).update(busy_until=until)
    return until if taken == 1 else None


def _release_endpoint(webhook_pk: int, held: datetime) -> None:
    Webhook.objects.filter(pk=webhook_pk, busy_until=held).update(busy_until=None)


def _due(webhook: Webhook, now: datetime) -> QuerySet[WebhookDelivery]:
    """The endpoint's due deliveries, oldest due first: only pings while it is paused and its
    cool-down runs."""
    due = WebhookDelivery.objects.filter(
        webhook=webhook, state=Delivery.PENDING, next_attempt_at__lte=now
    ).order_by("next_attempt_at", "pk")
    if is_paused(webhook) and not trial_due(webhook):
        due = due.filter(event=WebhookDelivery.PING)
    return due


def deliver(delivery_pk: int, now: datetime | None = None) -> str:
    """One attempt at a due delivery: ``delivered``, ``retry`` (failed, tried again later),
    ``failed`` (given up), ``paused`` (its endpoint's breaker is open: it waits, no attempt
    spent) or ``skipped`` (not due, done already, being sent elsewhere, another attempt at the
    endpoint in flight, gone). Safe to run twice and from several workers at once; the network
    call is made outside any database transaction. ``now`` is the clock the attempt is due by
    (default: now)."""
    now = now or timezone.now()
    delivery = WebhookDelivery.objects.select_related("webhook").filter(pk=delivery_pk).first()
    if delivery is None:
        return "skipped"
    webhook = delivery.webhook
    if is_paused(webhook) and delivery.event != WebhookDelivery.PING and not trial_due(webhook):
        return "paused"
    lease = _take_endpoint(webhook.pk)
    if lease is None:
        return "skipped"  # the sweep sends it once the endpoint is free
    try:
        return _attempt(delivery_pk, now)
    finally:
        _release_endpoint(webhook.pk, lease)


def deliver_endpoint(webhook_pk: int, now: datetime | None = None) -> list[str]:
    """The endpoint's due deliveries, one after another, at most
    ``PAYMENTS_WEBHOOK_SWEEP_PER_ENDPOINT`` (only one trial while paused past its cool-down,
    none while it cools down): their outcomes. Nothing if another attempt at it is in flight."""
    now = now or timezone.now()
    Webhook.objects.filter(pk=webhook_pk).update(queued_until=None)
    lease = _take_endpoint(webhook_pk)
    if lease is None:
        return []
    outcomes: list[str] = []
    tried: list[int] = []
    try:
        for _ in range(per_endpoint_batch()):
            webhook = Webhook.objects.filter(pk=webhook_pk).first()
            if webhook is None:
                break
            delivery_pk = _due(webhook, now).exclude(pk__in=tried).values_list("pk", flat=True)
            next_pk = delivery_pk.first()
            if next_pk is None:
                break
            renewed = _take_endpoint(webhook_pk, held=lease)
            if renewed is None:
                break  # our lease ran out and another worker holds the endpoint now
            lease = renewed
            tried.append(next_pk)
            outcomes.append(_attempt(next_pk, now))
    finally:
        _release_endpoint(webhook_pk, lease)
    return outcomes


def _attempt(delivery_pk: int, now: datetime) -> str:
    """The attempt itself, the endpoint's lease held."""
    attempt = _claim(delivery_pk, now)
    if attempt is None:
        return "skipped"
    delivery = WebhookDelivery.objects.select_related("webhook").filter(pk=delivery_pk).first()
    if delivery is None:
        return "skipped"  # its webhook was deleted meanwhile
    webhook = delivery.webhook
    ping = delivery.event == WebhookDelivery.PING
    status: int | None = None
    error = ""
    if not webhook.active and not ping:
        return _give_up(delivery, attempt, "the webhook is disabled")
    body = body_of(delivery)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        EVENT_HEADER: delivery.event,
        DELIVERY_HEADER: str(delivery.delivery_id),
        SIGNATURE_HEADER: signature(webhook.secret, int(time.time()), body),
    }
    try:
        status = post(webhook.url, body, headers)
    except UnsafeUrl as refused:
        error = refused.message
    except httpx.HTTPError as failure:
        error = f"{type(failure).__name__}: {failure}" if str(failure) else type(failure).__name__
    if status is not None and 200 <= status < 300:
        WebhookDelivery.objects.filter(pk=delivery_pk, attempts=attempt).update(
            state=Delivery.DELIVERED,
            delivered_at=timezone.now(),
            next_attempt_at=None,
            last_status_code=status,
            last_error="",
        )
        if not ping:  # a ping is the creator's test: it does not move the breaker
            endpoint_answered(webhook.pk)
        return "delivered"
    if status is not None:
        error = f"answered {status}"
    if not ping:
        endpoint_failed(webhook.pk, error)
    if ping or attempt >= max_attempts():
        return _give_up(delivery, attempt, error, status)
    WebhookDelivery.objects.filter(pk=delivery_pk, attempts=attempt).update(
        next_attempt_at=now + retry_delays()[attempt - 1],
        last_status_code=status,
        last_error=error[:300],
    )
    return "retry"


def _give_up(delivery: WebhookDelivery, attempt: int, error: str, status: int | None = None) -> str:
    WebhookDelivery.objects.filter(pk=delivery.pk, attempts=attempt).update(
        state=Delivery.FAILED, next_attempt_at=None, last_status_code=status, last_error=error[:300]
    )
    return "failed"
