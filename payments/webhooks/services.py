"""A creator's webhooks: registering, changing, switching off, rotating the secret, resuming
after the breaker opened, and the deliveries made to them."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import User
from creators.models import Creator
from payments.models import Webhook, WebhookDelivery, every_webhook_event
from payments.webhooks.errors import NotACreator, NotFound, TooManyWebhooks, WebhookRefused
from payments.webhooks.signing import new_secret
from payments.webhooks.targets import check_url

Delivery = WebhookDelivery.State

MAX_WEBHOOKS_PER_CREATOR = 10
RECENT_DELIVERIES = 50  # a page of the deliveries list
MAX_PAGE_SIZE = 100


def creator_of(user: User) -> Creator:
    """Raises NotACreator."""
    creator = Creator.objects.filter(user=user).first()
    if creator is None or not user.is_active:
        raise NotACreator("Only creators have webhooks.")
    return creator


def webhook_of(user: User, webhook_id: int) -> Webhook:
    """The creator's own webhook. Raises NotACreator, NotFound (another creator's too)."""
    webhook = Webhook.objects.filter(pk=webhook_id, creator=creator_of(user)).first()
    if webhook is None:
        raise NotFound("No such webhook.")
    return webhook


def _event_list(events: Iterable[str] | None) -> list[str]:
    if events is None:
        return every_webhook_event()
    chosen = set(events)
    unknown = chosen - set(every_webhook_event())
    if unknown:
        raise WebhookRefused(f"Unknown events: {', '.join(sorted(unknown))}.")
    if not chosen:
        raise WebhookRefused("A webhook listens to at least one event.")
    return [event for event in every_webhook_event() if event in chosen]


def create_webhook(
    user: User, url: str, events: Iterable[str] | None = None, description: str = ""
) -> Webhook:
    """A new active webhook of the user's; its ``secret`` is shown to the creator this once.
    Raises NotACreator, UnsafeUrl, WebhookRefused (unknown events), TooManyWebhooks."""
    creator = creator_of(user)
    url = check_url(url)
    chosen = _event_list(events)
    if Webhook.objects.filter(creator=creator).count() >= MAX_WEBHOOKS_PER_CREATOR:
        raise TooManyWebhooks(f"At most {MAX_WEBHOOKS_PER_CREATOR} webhooks per creator.")
    return Webhook.objects.create(
        creator=creator,
        url=url,
        secret=new_secret(),
        events=chosen,
        description=description.strip()[:100],
    )


def update_webhook(
    user: User,
    webhook_id: int,
    *,
    url: str | None = None,
    events: Iterable[str] | None = None,
    active: bool | None = None,
    description: str | None = None,
) -> Webhook:
    """Change what is given; events already queued keep the URL they are sent to checked again
    at each attempt. Raises NotACreator, NotFound, UnsafeUrl, WebhookRefused."""
    webhook = webhook_of(user, webhook_id)
    if url is not None:
        webhook.url = check_url(url)
    if events is not None:
        webhook.events = _event_list(events)
    if active is not None:
        webhook.active = active
    if description is not None:
        webhook.description = description.strip()[:100]
    webhook.save(update_fields=["url", "events", "active", "description"])
    return webhook


def delete_webhook(user: User, webhook_id: int) -> None:
    """Gone with its deliveries; one being sent right now finishes. Raises NotACreator,
    NotFound."""
    webhook_of(user, webhook_id).delete()


def rotate_secret(user: User, webhook_id: int) -> Webhook:
    """A new secret, used from the next attempt on (queued retries too); the old one stops
    at once. Raises NotACreator, NotFound."""
    webhook = webhook_of(user, webhook_id)
    webhook.secret = new_secret()
    webhook.secret_rotated_at = timezone.now()
    webhook.save(update_fields=["secret", "secret_rotated_at"])
    return webhook


def resume_webhook(user: User, webhook_id: int) -> Webhook:
    """Close the breaker of a paused endpoint: its waiting deliveries go with the next sweep.
    Raises NotACreator, NotFound."""
    webhook = webhook_of(user, webhook_id)
    Webhook.objects.filter(pk=webhook.pk).update(
        paused_at=None, paused_reason="", consecutive_failures=0
    )
    webhook.refresh_from_db()
    return webhook


def deliveries_of(
    user: User, webhook_id: int, *, state: str | None = None, event: str | None = None
) -> QuerySet[WebhookDelivery]:
    """The webhook's deliveries, newest first, of one state and/or event if given. Raises
    NotACreator, NotFound, WebhookRefused (an unknown state or event)."""
    webhook = webhook_of(user, webhook_id)
    deliveries = webhook.deliveries.order_by("-created_at", "-pk")
    if state:
        if state not in Delivery.values:
            raise WebhookRefused(f"Unknown state: {state}.")
        deliveries = deliveries.filter(state=state)
    if event:
        if event not in [*every_webhook_event(), WebhookDelivery.PING]:
            raise WebhookRefused(f"Unknown event: {event}.")
        deliveries = deliveries.filter(event=event)
    return deliveries


def recent_deliveries(user: User, webhook_id: int) -> list[WebhookDelivery]:
    """The webhook's latest deliveries, newest first. Raises NotACreator, NotFound."""
    return list(deliveries_of(user, webhook_id)[:RECENT_DELIVERIES])
