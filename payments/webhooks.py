"""Creator webhooks: signed invoice events POSTed to a creator's own endpoint, with retries.

What a receiver gets, per event and webhook (one ``WebhookDelivery``)::

    POST <url>
    Content-Type: application/json
    User-Agent: BTT-Creators-Webhooks/1
    X-BTT-Event: invoice.settled
    X-BTT-Delivery: 6f1c...-uuid            (the same on every retry of this delivery)
    X-BTT-Signature: t=1767225600,v1=5257a869e7...

    {"created_at": "...", "delivery_id": "6f1c...", "event": "invoice.settled",
     "invoice": {"id": "...", "state": "settled", "amount_due": {"value": "100.000001",
     "units": "100000001000000000000", "token": "BTT"}, ...}, "txid": "..."}

Verifying it (Stripe's scheme): ``v1`` is the hex HMAC-SHA256, keyed with the webhook's secret,
of ``f"{t}.{body}"`` where ``body`` is the raw request body exactly as received and ``t`` the
Unix time of the attempt. Compare in constant time and refuse a ``t`` more than a few minutes
old, so a captured request cannot be replayed later (``verify_signature`` does both).

Events: ``invoice.created``, ``invoice.processing``, ``invoice.settled``, ``invoice.expired``,
``invoice.invalid``, and ``ping`` on request. Amounts are strings, never JSON numbers. A 2xx
answer delivers; anything else (another status, a redirect, a timeout, a refused connection)
is retried after ``PAYMENTS_WEBHOOK_RETRY_SECONDS`` (default 1 min, 5 min, 30 min, 2 h, 6 h,
12 h, 24 h, 24 h: nine attempts over about three days), then the delivery is ``failed``. Order
is not guaranteed: a receiver reads ``invoice.state`` rather than trusting arrival order.

Isolation: deliveries run on the ``webhooks`` Celery queue, consumed by a worker of their own,
so an endpoint that hangs never holds up uploads, payments or emails. Connecting times out after
``PAYMENTS_WEBHOOK_CONNECT_TIMEOUT_SECONDS`` (3 s), each write or read after
``PAYMENTS_WEBHOOK_TIMEOUT_SECONDS`` (10 s), the whole attempt after twice that. One attempt is
in flight per endpoint at a time (a lease on the ``Webhook`` row). After
``PAYMENTS_WEBHOOK_BREAKER_FAILURES`` failed attempts in a row the endpoint is *paused*: nothing
is sent to it (deliveries wait, their attempts not spent) until the creator resumes it, or the
cool-down (``PAYMENTS_WEBHOOK_BREAKER_COOLDOWN_SECONDS``) has passed and one trial delivery
succeeds. The retry sweep runs every 5 s and is fair: each
endpoint with due deliveries gets a task of its own, which sends at most
``PAYMENTS_WEBHOOK_SWEEP_PER_ENDPOINT`` of them.

Safety: each attempt first claims the row with a conditional UPDATE, so two workers never send
the same delivery at once and a delivered one is never sent again. Endpoints must be HTTPS on
public addresses; the address is resolved and checked at registration and again at every
attempt, and the request goes to the checked address (no second lookup an attacker's DNS could
answer differently), without following redirects. ``DEBUG`` or
``PAYMENTS_WEBHOOK_ALLOW_PRIVATE`` lift that for development and tests.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import ipaddress
import json
import secrets
import socket
import threading
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Min, Q, QuerySet
from django.utils import timezone

from accounts.models import User
from creators.models import Creator
from payments.models import (
    Invoice,
    InvoiceEvent,
    Webhook,
    WebhookDelivery,
    WebhookEvent,
    every_webhook_event,
)

Delivery = WebhookDelivery.State

SIGNATURE_HEADER = "X-BTT-Signature"
DELIVERY_HEADER = "X-BTT-Delivery"
EVENT_HEADER = "X-BTT-Event"
USER_AGENT = "BTT-Creators-Webhooks/1"
SECRET_PREFIX = "whsec_"  # noqa: S105 (a label, not a secret)
SIGNATURE_TOLERANCE_SECONDS = 300
MAX_WEBHOOKS_PER_CREATOR = 10
RECENT_DELIVERIES = 50  # a page of the deliveries list
MAX_PAGE_SIZE = 100
SWEEP_ENDPOINTS = 1000  # endpoints given a task per sweep pass (5 s apart), longest waiting first
MAX_URL_LENGTH = 500  # Webhook.url


# --- configuration ---------------------------------------------------------------------------


def retry_delays() -> list[timedelta]:
    """``PAYMENTS_WEBHOOK_RETRY_SECONDS``: the wait after each failed attempt; one attempt more
    than there are waits."""
    return [timedelta(seconds=value) for value in settings.PAYMENTS_WEBHOOK_RETRY_SECONDS]


def max_attempts() -> int:
    return len(retry_delays()) + 1


def request_timeout() -> float:
    """``PAYMENTS_WEBHOOK_TIMEOUT_SECONDS`` (default 10): connect, write and each read."""
    return float(settings.PAYMENTS_WEBHOOK_TIMEOUT_SECONDS)


def connect_timeout() -> float:
    """``PAYMENTS_WEBHOOK_CONNECT_TIMEOUT_SECONDS`` (default 3), at most the request timeout."""
    return min(float(settings.PAYMENTS_WEBHOOK_CONNECT_TIMEOUT_SECONDS), request_timeout())


def total_timeout() -> float:
    """The most one attempt may take in all: twice ``PAYMENTS_WEBHOOK_TIMEOUT_SECONDS``."""
    return request_timeout() * 2


def breaker_failures() -> int:
    return int(settings.PAYMENTS_WEBHOOK_BREAKER_FAILURES)


def breaker_cooldown() -> timedelta:
    return timedelta(seconds=settings.PAYMENTS_WEBHOOK_BREAKER_COOLDOWN_SECONDS)


def per_endpoint_batch() -> int:
    return int(settings.PAYMENTS_WEBHOOK_SWEEP_PER_ENDPOINT)


def private_targets_allowed() -> bool:
    """Loopback, private and plain-HTTP endpoints: for development (``DEBUG``) and tests
    (``PAYMENTS_WEBHOOK_ALLOW_PRIVATE``) only. In production they would let a creator make the
    platform call into its own network."""
    return bool(settings.DEBUG or settings.PAYMENTS_WEBHOOK_ALLOW_PRIVATE)


def attempt_lease() -> timedelta:
    """How long a claimed attempt holds its delivery before another worker may take it."""
    # Longer than any one attempt can take (connect, write, read, each up to the timeout).
    return timedelta(seconds=request_timeout() * 4 + 30)


# --- errors ----------------------------------------------------------------------------------


class WebhookRefused(Exception):
    """A request about webhooks that is turned down, with the HTTP status and a message."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotACreator(WebhookRefused):
    status = 403


class NotFound(WebhookRefused):
    status = 404


class UnsafeUrl(WebhookRefused):
    """Not an HTTPS URL of a public address (or it cannot be resolved)."""

    status = 422


class TooManyWebhooks(WebhookRefused):
    status = 409


# --- endpoints -------------------------------------------------------------------------------


def _blocked(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is loopback too
    return not address.is_global or address.is_multicast


def resolve_target(url: str) -> tuple[str, list[str]]:
    """The URL's host and the addresses it resolves to, all of them public unless private
    targets are allowed. Raises UnsafeUrl."""
    parts = urlsplit(url)
    allow_private = private_targets_allowed()
    if parts.scheme != "https" and not (parts.scheme == "http" and allow_private):
        raise UnsafeUrl("A webhook URL starts with https://.")
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl("A webhook URL carries no user name or password.")
    host = parts.hostname
    if not host:
        raise UnsafeUrl("A webhook URL names a host.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UnsafeUrl("The port of this URL is not a number from 1 to 65535.") from None
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise UnsafeUrl(f"{host} does not resolve.") from None
    addresses: list[str] = []
    for *_, sockaddr in found:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if _blocked(address) and not allow_private:
            raise UnsafeUrl(f"{host} is not a public address.")
        if str(address) not in addresses:
            addresses.append(str(address))
    if not addresses:
        raise UnsafeUrl(f"{host} does not resolve.")
    return host, addresses


def check_url(url: str) -> str:
    """``url`` if webhooks may be sent to it. Raises UnsafeUrl."""
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeUrl(f"A webhook URL is at most {MAX_URL_LENGTH} characters.")
    if any(character.isspace() for character in url):
        raise UnsafeUrl("A webhook URL has no spaces.")
    if urlsplit(url).fragment:
        raise UnsafeUrl("A webhook URL has no #fragment.")
    resolve_target(url)
    return url


def _new_secret() -> str:
    return SECRET_PREFIX + secrets.token_hex(24)


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
        secret=_new_secret(),
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
    webhook.secret = _new_secret()
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


# --- events ----------------------------------------------------------------------------------


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
        transaction.on_commit(send)


# --- signing ---------------------------------------------------------------------------------


def body_of(delivery: WebhookDelivery) -> bytes:
    # Sorted keys: PostgreSQL's jsonb does not keep key order, and a retry must send the same
    # bytes as the first attempt.
    return json.dumps(delivery.payload, sort_keys=True, separators=(",", ":")).encode()


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-BTT-Signature`` header value for ``body`` sent at ``timestamp``."""
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_signature(
    secret: str,
    header: str,
    body: bytes,
    *,
    tolerance: int = SIGNATURE_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """What a receiver does: the header's ``v1`` matches, and its ``t`` is recent."""
    fields: dict[str, list[str]] = {}
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        fields.setdefault(key, []).append(value)
    try:
        (raw_timestamp,) = fields.get("t", [])
        timestamp = int(raw_timestamp)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body).rpartition("v1=")[2]
    return any(hmac.compare_digest(expected, given) for given in fields.get("v1", []))


# --- delivering ------------------------------------------------------------------------------


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


def is_paused(webhook: Webhook) -> bool:
    return webhook.paused_at is not None


def _trial_due(webhook: Webhook) -> bool:
    """A paused endpoint whose cool-down is over: one trial delivery may go (half-open)."""
    return webhook.paused_at is not None and webhook.paused_at + breaker_cooldown() <= (
        timezone.now()
    )


def _endpoint_answered(webhook_pk: int) -> None:
    Webhook.objects.filter(pk=webhook_pk).update(
        consecutive_failures=0, paused_at=None, paused_reason=""
    )


def _endpoint_failed(webhook_pk: int, error: str) -> None:
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


def _due(webhook: Webhook, now: datetime) -> QuerySet[WebhookDelivery]:
    """The endpoint's due deliveries, oldest due first: only pings while it is paused and its
    cool-down runs."""
    due = WebhookDelivery.objects.filter(
        webhook=webhook, state=Delivery.PENDING, next_attempt_at__lte=now
    ).order_by("next_attempt_at", "pk")
    if is_paused(webhook) and not _trial_due(webhook):
        due = due.filter(event=WebhookDelivery.PING)
    return due


class _Deadline:
    """Cuts the connections of one attempt once ``seconds`` have passed: the read timeout holds
    for each read, so an endpoint trickling a byte at a time would otherwise hold on for ever."""

    def __init__(self, seconds: float) -> None:
        self.sockets: list[socket.socket] = []
        self.passed = False
        self.timer = threading.Timer(seconds, self._cut)
        self.timer.daemon = True

    def trace(self, event: str, info: dict[str, Any]) -> None:
        if event == "connection.connect_tcp.complete" and info.get("return_value") is not None:
            connected = info["return_value"].get_extra_info("socket")
            if isinstance(connected, socket.socket):
                self.sockets.append(connected)

    def _cut(self) -> None:
        self.passed = True
        for connected in self.sockets:
            with contextlib.suppress(OSError):
                connected.shutdown(socket.SHUT_RDWR)  # wakes a read blocked on it

    def __enter__(self) -> _Deadline:
        self.timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.timer.cancel()


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST ``body`` to an address ``url`` resolves to, as checked (the next one when one
    refuses the connection); the status. Raises UnsafeUrl and httpx.HTTPError."""
    host, addresses = resolve_target(url)
    parts = urlsplit(url)
    host_header = parts.netloc.rpartition("@")[2]
    # No environment proxies (they would resolve the name again), no redirects (a 3xx could
    # point anywhere), and the body is never read: the status says it all.
    timeout = httpx.Timeout(request_timeout(), connect=connect_timeout())
    deadline = _Deadline(total_timeout())
    with deadline, httpx.Client(timeout=timeout, trust_env=False, follow_redirects=False) as client:
        for index, address in enumerate(addresses):
            pinned_host = f"[{address}]" if ":" in address else address
            netloc = pinned_host if parts.port is None else f"{pinned_host}:{parts.port}"
            request = client.build_request(
                "POST",
                urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, "")),
                content=body,
                headers={**headers, "Host": host_header},
                extensions={
                    "trace": deadline.trace,
                    **({"sni_hostname": host} if parts.scheme == "https" else {}),
                },
            )
            try:
                response = client.send(request, stream=True)
            except httpx.ConnectError:
                if index == len(addresses) - 1:
                    raise
                continue
            except httpx.HTTPError:
                if deadline.passed:
                    raise httpx.TimeoutException(
                        f"no answer within {total_timeout():g} s in all", request=request
                    ) from None
                raise
            response.close()
            return response.status_code
    raise AssertionError("resolve_target returns at least one address")


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
    if is_paused(webhook) and delivery.event != WebhookDelivery.PING and not _trial_due(webhook):
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
        status = _post(webhook.url, body, headers)
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
            _endpoint_answered(webhook.pk)
        return "delivered"
    if status is not None:
        error = f"answered {status}"
    if not ping:
        _endpoint_failed(webhook.pk, error)
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
