"""Celery tasks of payments: thin wrappers that take ids and are safe to run twice."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from celery import shared_task

from payments import claims, invoices
from payments.chain.node import NodeUnavailable, node_client
from payments.models import Payment, TxClaim
from payments.webhooks import delivery, sweep

# A block every 3 s; a claim is usually made before its transaction is in one, and a block is
# solidified about a minute later. 400 tries 3 s apart cover both with room to spare.
CLAIM_POLL_SECONDS = 3
CLAIM_POLL_TRIES = 400


@shared_task(name="payments.expire_invoices")
def expire_invoices() -> int:
    """Turn new invoices past their expiry ``expired`` (beat, every minute)."""
    return invoices.expire_invoices()


@shared_task(name="payments.verify_claim", bind=True, max_retries=CLAIM_POLL_TRIES)
def verify_claim(self: Any, claim_id: int) -> str:
    """Verify a claimed txid on the node; ask again while it is pending or not yet solidified."""
    claim = TxClaim.objects.filter(pk=claim_id).first()
    if claim is None or claim.state == TxClaim.State.REFUSED:
        return "gone" if claim is None else claim.state
    if claim.state == TxClaim.State.VERIFIED and not _unsolidified(claim.txid):
        return claim.state
    try:
        claim = claims.verify_claim(claim_id, node_client())
    except NodeUnavailable as error:
        raise self.retry(countdown=CLAIM_POLL_SECONDS, exc=error) from error
    if claim.state == TxClaim.State.PENDING and self.request.retries >= CLAIM_POLL_TRIES:
        return claims.abandon_claim(claim_id).state
    if claim.state == TxClaim.State.PENDING or _unsolidified(claim.txid):
        raise self.retry(countdown=CLAIM_POLL_SECONDS)
    return claim.state


@shared_task(name="payments.deliver_webhook")
def deliver_webhook(delivery_id: int) -> str:
    """One attempt at a webhook delivery, queued after commit (on the ``webhooks`` queue);
    later attempts come from ``deliver_due_webhooks``. A delivery already sent or being sent,
    or whose endpoint is busy or paused, is left to the sweep."""
    return delivery.deliver(delivery_id)


@shared_task(name="payments.deliver_due_webhooks")
def deliver_due_webhooks(at: str | None = None) -> int:
    """The retry sweep (beat, every 5 s): a ``deliver_endpoint_webhooks`` task for each
    endpoint with due deliveries, so one slow endpoint never holds up another's; how many were
    queued. ``at`` (ISO 8601) is the time to be due by, default now."""
    queued = sweep.endpoints_to_queue(_when(at))
    for webhook_id in queued:
        deliver_endpoint_webhooks.delay(webhook_id, at)
    return len(queued)


@shared_task(name="payments.deliver_endpoint_webhooks")
def deliver_endpoint_webhooks(webhook_id: int, at: str | None = None) -> int:
    """An endpoint's due deliveries, a few at most, one at a time: how many were delivered."""
    outcomes = delivery.deliver_endpoint(webhook_id, _when(at))
    return sum(outcome == "delivered" for outcome in outcomes)


def _when(at: str | None) -> datetime | None:
    return datetime.fromisoformat(at) if at else None


def _unsolidified(txid: str) -> bool:
    return Payment.objects.filter(
        txid=txid, solidified_at__isnull=True, dropped_at__isnull=True
    ).exists()
