"""Invoice events as webhook deliveries: each creation or state change of an invoice is queued
for every active webhook of its creator that listens to it, and sent by a worker once the
transaction commits; a ``ping`` on the creator's request."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from payments.models import (
    Invoice,
    InvoiceEvent,
    Webhook,
    WebhookDelivery,
    WebhookEvent,
    every_webhook_event,
)
from payments.webhooks.services import webhook_of


def event_of(logged: InvoiceEvent) -> str | None:
    """The webhook event an invoice log entry is, if it is one (creation and state changes)."""
    if logged.kind == InvoiceEvent.Kind.CREATED:
        return WebhookEvent.INVOICE_CREATED.value
    if logged.kind == InvoiceEvent.Kind.STATE:
        event = f"invoice.{logged.to_state}"
        return event if event in every_webhook_event() else None
    return None


def invoice_payload(invoice: Invoice) -> dict[str, Any]:
    return {
        "id": str(invoice.pk),
        "kind": invoice.kind,
        "state": invoice.state,
        "partial": invoice.partial,
        "over": invoice.over,
        "late": invoice.late,
        # The price or tip as asked, for what a receiver shows a person (a thank-you, a
        # receipt); amount_due carries the unique-amount tag, for reconciling with the chain.
        "amount_asked": dict(invoice.asked.to_json()),
        "amount_due": dict(invoice.due.to_json()),
        "amount_paid": dict(invoice.paid.to_json()),
        "pay_to": invoice.recipient,
        "memo": invoice.memo,
        "content_id": invoice.content_id,
        "payer_address": invoice.payer_address,
        "created_at": invoice.created_at.isoformat(),
        "expires_at": invoice.expires_at.isoformat(),
        "settled_at": invoice.settled_at.isoformat() if invoice.settled_at else None,
        "txids": invoice.txids(),
    }


def queue_invoice_event(invoice: Invoice, logged: InvoiceEvent) -> list[WebhookDelivery]:
    """A delivery of this invoice event for each active webhook of the invoice's creator that
    listens to it, sent by a worker once the current transaction commits. Handing the same
    event over twice queues nothing more."""
    event = event_of(logged)
    if event is None:
        return []
    queued: list[WebhookDelivery] = []
    webhooks = Webhook.objects.filter(creator_id=invoice.creator_id, active=True)
    listening = [webhook for webhook in webhooks if event in webhook.events]
    if not listening:
        return queued
    snapshot = invoice_payload(invoice)  # the invoice as this event left it
    for webhook in listening:
        delivery = WebhookDelivery(
            webhook=webhook, event=event, invoice_event=logged, next_attempt_at=logged.created_at
        )
        delivery.payload = {
            "delivery_id": str(delivery.delivery_id),
            "event": event,
            "created_at": logged.created_at.isoformat(),
            "invoice": snapshot,
            "txid": logged.txid,
        }
        try:
            with transaction.atomic():
                delivery.save()
        except IntegrityError:
            continue  # this webhook has this event already
        queued.append(delivery)
    _send_after_commit([delivery.pk for delivery in queued])
    return queued


def queue_event(creator_id: int, event: str, payload: Mapping[str, Any]) -> list[WebhookDelivery]:
    """A delivery of a seller's ``event`` (a ``WebhookEvent``, such as ``membership.renewed``)
    with ``payload`` beside the envelope, for each active webhook of the creator listening to
    it, sent after commit. The caller makes it once (its own event row decides that)."""
    now = timezone.now()
    queued: list[WebhookDelivery] = []
    for webhook in Webhook.objects.filter(creator_id=creator_id, active=True):
        if event not in webhook.events:
            continue
        delivery = WebhookDelivery(
            webhook=webhook, event=event, next_attempt_at=now, created_at=now
        )
        delivery.payload = {
            "delivery_id": str(delivery.delivery_id),
            "event": event,
            "created_at": now.isoformat(),
            **payload,
        }
        delivery.save()
        queued.append(delivery)
    _send_after_commit([delivery.pk for delivery in queued])
    return queued


def send_ping(user: User, webhook_id: int) -> WebhookDelivery:
    """A signed ``ping`` to the webhook now, active or not, tried once. Raises NotACreator,
    NotFound."""
    webhook = webhook_of(user, webhook_id)
    now = timezone.now()
    delivery = WebhookDelivery(
        webhook=webhook, event=WebhookDelivery.PING, next_attempt_at=now, created_at=now
    )
    delivery.payload = {
        "delivery_id": str(delivery.delivery_id),
        "event": WebhookDelivery.PING,
        "created_at": now.isoformat(),
        "webhook": {"id": webhook.pk, "url": webhook.url, "events": webhook.events},
    }
    with transaction.atomic():
        delivery.save()
        _send_after_commit([delivery.pk])
    return delivery


def _send_after_commit(delivery_ids: list[int]) -> None:
    from payments.tasks import deliver_webhook

    def send() -> None:
        for delivery_id in delivery_ids:
            deliver_webhook.delay(delivery_id)

    if delivery_ids:
        # robust: the deliveries are rows already, and the sweep sends what never reached the
        # queue. Raised here, a broker that is away turned the request that made the invoice
        # (a fan's Buy, a tip) into a 500 after it had committed.
        transaction.on_commit(send, robust=True)
