"""The circuit breaker of an endpoint: after ``PAYMENTS_WEBHOOK_BREAKER_FAILURES`` failed attempts
in a row it is paused (deliveries wait, their attempts not spent) until the creator resumes it,
or the cool-down has passed and one trial delivery succeeds."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from payments.models import Webhook


def breaker_failures() -> int:
    return int(settings.PAYMENTS_WEBHOOK_BREAKER_FAILURES)


def breaker_cooldown() -> timedelta:
    return timedelta(seconds=settings.PAYMENTS_WEBHOOK_BREAKER_COOLDOWN_SECONDS)


def is_paused(webhook: Webhook) -> bool:
    return webhook.paused_at is not None


def trial_due(webhook: Webhook) -> bool:
    """A paused endpoint whose cool-down is over: one trial delivery may go (half-open)."""
    return webhook.paused_at is not None and webhook.paused_at + breaker_cooldown() <= (
        timezone.now()
    )


def endpoint_answered(webhook_pk: int) -> None:
    Webhook.objects.filter(pk=webhook_pk).update(
        consecutive_failures=0, paused_at=None, paused_reason=""
    )


def endpoint_failed(webhook_pk: int, error: str) -> None:
    """One more failure in a row; the breaker opens at the threshold, and a failed trial starts
    a new cool-down."""
    Webhook.objects.filter(pk=webhook_pk).update(consecutive_failures=F("consecutive_failures") + 1)
    failures = (
        Webhook.objects.filter(pk=webhook_pk).values_list("consecutive_failures", flat=True).first()
    )
    if failures is None:
        return
    reason = f"{failures} failed attempts in a row; the last: {error}"
    Webhook.objects.filter(
        Q(paused_at__isnull=False) | Q(consecutive_failures__gte=breaker_failures()), pk=webhook_pk
    ).update(paused_at=timezone.now(), paused_reason=reason[:300])
