"""Celery tasks of payments: thin wrappers that take ids and are safe to run twice."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from celery import shared_task

from payments import services, tron, webhooks
from payments.models import Payment, TxClaim

# A block every 3 s; a claim is usually made before its transaction is in one, and a block is
# solidified about a minute later. 400 tries 3 s apart cover both with room to spare.
CLAIM_POLL_SECONDS = 3
CLAIM_POLL_TRIES = 400


@shared_task(name="payments.expire_invoices")
def expire_invoices() -> int:
    """Turn new invoices past their expiry ``expired`` (beat, every minute)."""
    return services.expire_invoices()


@shared_task(name="payments.verify_claim", bind=True, max_retries=CLAIM_POLL_TRIES)
def verify_claim(self: Any, claim_id: int) -> str:
    """Verify a claimed txid on the node; ask again while it is pending or not yet solidified."""
    claim = TxClaim.objects.filter(pk=claim_id).first()
    if claim is None or claim.state == TxClaim.State.REFUSED:
        return "gone" if claim is None else claim.state
    if claim.state == TxClaim.State.VERIFIED and not _unsolidified(claim.txid):
        return claim.state
    try:
        claim = services.verify_claim(claim_id, tron.node_client())
    except tron.NodeUnavailable as error:
        raise self.retry(countdown=CLAIM_POLL_SECONDS, exc=error) from error
    if claim.state == TxClaim.State.PENDING and self.request.retries >= CLAIM_POLL_TRIES:
        return services.abandon_claim(claim_id).state
    if claim.state == TxClaim.State.PENDING or _unsolidified(claim.txid):
        raise self.retry(countdown=CLAIM_POLL_SECONDS)
    return claim.state


@shared_task(name="payments.deliver_webhook")
def deliver_webhook(delivery_id: int) -> str:
    """One attempt at a webhook delivery, queued after commit; later attempts come from
    ``deliver_due_webhooks``. A delivery already sent or being sent is skipped."""
    return webhooks.deliver(delivery_id)


@shared_task(name="payments.deliver_due_webhooks")
def deliver_due_webhooks(at: str | None = None) -> int:
    """Retry the webhook deliveries that are due (beat, every minute); ``at`` (ISO 8601) is
    the time to be due by, default now."""
    return webhooks.deliver_due(datetime.fromisoformat(at) if at else None)


def _unsolidified(txid: str) -> bool:
    return Payment.objects.filter(
        txid=txid, solidified_at__isnull=True, dropped_at__isnull=True
    ).exists()
