"""Creator webhooks: signed invoice events POSTed by a real worker to a real HTTP receiver on
loopback, retries with the same delivery id, giving up, isolation between creators, refusing
endpoints on private addresses, and the API."""

from __future__ import annotations

import itertools
import json
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts.models import User
from creators.models import Creator
from payments import crediting, invoices
from payments.models import Invoice, Webhook, WebhookDelivery
from payments.tasks import deliver_webhook
from payments.webhooks import breaker, events, services, signing, sweep
from payments.webhooks.delivery import (
    attempt_lease,
    deliver,
    deliver_endpoint,
    max_attempts,
    retry_delays,
)
from tests.fixtures.api_clients import client_for, numbers_in
from tests.fixtures.personas import make_user
from tests.fixtures.processes import Child, start_worker, wait_for
from tests.fixtures.sessions import logged_in
from tests.fixtures.webhooks import CLOSE, HOLD, Receiver, hmac_hex, signature_matches
from tests.payments.factories import OTHER_ADDRESS, paying, proven, purchase

Delivery = WebhookDelivery.State


@pytest.fixture
def celery_worker(transactional_db: None, tmp_path: Path) -> Iterator[Child]:
    """A real worker on the default queue and on ``webhooks``, where deliveries run."""
    child = start_worker(tmp_path, extra={"CELERY_WORKER_QUEUES": "celery,webhooks"})
    try:
        yield child
    finally:
        child.stop()


@pytest.fixture
def loopback_allowed(settings: Any) -> None:
    """Receivers live on 127.0.0.1 over plain HTTP; the test process runs with DEBUG off."""
    settings.PAYMENTS_WEBHOOK_ALLOW_PRIVATE = True


# --- helpers ---------------------------------------------------------------------------------


def register(creator: Creator, url: str, **fields: Any) -> Webhook:
    return services.create_webhook(creator.user, url, **fields)


def other_creator() -> Creator:
    return Creator.objects.create(
        user=make_user("rival"), handle="rival", display_name="Rival", payout_address=OTHER_ADDRESS
    )


def delivery_of(webhook: Webhook, event: str) -> WebhookDelivery:
    return WebhookDelivery.objects.get(webhook=webhook, event=event)


def wait_until_done(webhook: Webhook, count: int) -> None:
    """Until ``count`` deliveries of the webhook exist and none is pending."""
    wait_for(
        lambda: (
            WebhookDelivery.objects.filter(webhook=webhook).count() == count
            and not WebhookDelivery.objects.filter(webhook=webhook, state=Delivery.PENDING).exists()
        ),
        timeout=60,
        what=f"{count} deliveries to be done",
    )


def wait_for_attempt(delivery: WebhookDelivery, attempts: int) -> WebhookDelivery:
    """Until attempt number ``attempts`` is over and recorded (no longer holding its lease) and
    the worker has let go of the endpoint, which it does just after recording the attempt: a
    sweep before that finds the endpoint busy and sends nothing."""

    def recorded() -> bool:
        delivery.refresh_from_db()
        in_flight = delivery.state == Delivery.PENDING and (
            delivery.next_attempt_at is None
            or delivery.last_attempt_at is None
            or delivery.next_attempt_at == delivery.last_attempt_at + attempt_lease()
        )
        released = not Webhook.objects.filter(
            pk=delivery.webhook_id, busy_until__isnull=False
        ).exists()
        return delivery.attempts == attempts and not in_flight and released

    wait_for(recorded, timeout=60, what=f"attempt {attempts}")
    return delivery


def sweep_at(when: datetime) -> int:
    """One pass of the retry sweep here, as of ``when``: how many were delivered (workers fan
    it out per endpoint; test_webhook_isolation runs that)."""
    return sweep.deliver_due(when)


def a_delivery(webhook: Webhook) -> WebhookDelivery:
    """A due delivery made directly, so no task is queued for a worker that is not there."""
    return WebhookDelivery.objects.create(
        webhook=webhook,
        event="invoice.created",
        payload={"event": "invoice.created", "invoice": {"amount_due": {"units": "5"}}},
        next_attempt_at=timezone.now(),
    )


# --- the signature ---------------------------------------------------------------------------


def test_the_signature_is_an_hmac_of_the_time_and_the_body() -> None:
    body = b'{"event":"ping"}'

    header = signing.signature("whsec_abc", 1_767_225_600, body)

    assert header == f"t=1767225600,v1={hmac_hex('whsec_abc', '1767225600', body)}"
    assert signing.verify_signature("whsec_abc", header, body, now=1_767_225_600 + 299)
    assert not signing.verify_signature("whsec_abd", header, body, now=1_767_225_600)
    assert not signing.verify_signature("whsec_abc", header, body + b" ", now=1_767_225_600)
    assert not signing.verify_signature("whsec_abc", header, body, now=1_767_225_600 + 301)
    assert not signing.verify_signature("whsec_abc", "v1=00,t=x", body)


def test_a_ping_arrives_signed_with_the_webhooks_secret_only(
    celery_worker: Child,
    creator: Creator,
    receivers: Callable[..., Receiver],
    loopback_allowed: None,
) -> None:
    # given
    receiver = receivers()
    response = client_for(creator.user).post(
        "/api/v1/webhooks", {"url": receiver.url}, content_type="application/json"
    )
    assert response.status_code == 201
    secret = response.json()["secret"]
    webhook = Webhook.objects.get(pk=response.json()["id"])

    # when
    ping = client_for(creator.user).post(f"/api/v1/webhooks/{webhook.pk}/ping")
    wait_until_done(webhook, 1)

    # then
    assert ping.status_code == 202
    (request,) = receiver.received
    assert request.path == "/hooks/btt"
    assert request.headers["content-type"] == "application/json"
    assert request.event == "ping"
    assert request.delivery_id == ping.json()["delivery_id"] == request.json()["delivery_id"]
    assert signature_matches(secret, request)
    assert not signature_matches(secret + "0", request)
    assert not signature_matches(signing.new_secret(), request)
    assert signing.verify_signature(secret, request.headers["x-btt-signature"], request.body)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.attempts, delivery.last_status_code) == (
        Delivery.DELIVERED,
        1,
        200,
    )


# --- invoice events --------------------------------------------------------------------------


def test_every_invoice_event_reaches_the_creators_webhook_once(
    celery_worker: Child,
    creator: Creator,
    fan: User,
    receivers: Callable[..., Receiver],
    loopback_allowed: None,
) -> None:
    # given: a webhook listening to every invoice event
    receiver = receivers()
    webhook = register(creator, receiver.url)

    # when: one invoice is paid and settled, one expires, one's payment drops
    settled = purchase(fan, creator, "Settled")
    expired = purchase(fan, creator, "Expired")
    dropped = purchase(fan, creator, "Dropped")
    paid = proven(*paying(settled))
    crediting.record_transfer(paid, solidified=False)
    crediting.record_transfer(paid, solidified=True)
    lost = proven(*paying(dropped, seq=1))
    crediting.record_transfer(lost, solidified=False)
    crediting.drop_transfer(lost.txid, lost.log_index)
    invoices.expire_invoices(now=expired.expires_at + timedelta(seconds=1))
    wait_until_done(webhook, 8)

    # then: each event once, with its delivery's id, signed, amounts as strings
    seen = sorted((r.json()["invoice"]["id"], r.event) for r in receiver.received)
    expected = {
        settled: ["created", "processing", "settled"],
        expired: ["created", "expired"],
        dropped: ["created", "processing", "invalid"],
    }
    assert seen == sorted(
        (str(invoice.pk), f"invoice.{event}")
        for invoice, events in expected.items()
        for event in events
    )
    for request in receiver.received:
        payload = request.json()
        delivery = WebhookDelivery.objects.get(delivery_id=request.delivery_id)
        assert (delivery.webhook_id, delivery.event) == (webhook.pk, request.event)
        assert (delivery.state, delivery.attempts) == (Delivery.DELIVERED, 1)
        assert payload["delivery_id"] == request.delivery_id
        assert payload["event"] == request.event
        state = request.event.removeprefix("invoice.").replace("created", "new")
        assert payload["invoice"]["state"] == state
        assert payload["invoice"]["amount_due"] == {
            "value": Invoice.objects.get(pk=payload["invoice"]["id"]).due.decimal_string(),
            "units": str(Invoice.objects.get(pk=payload["invoice"]["id"]).amount_due),
            "token": "BTT",
        }
        # What a receiver shows a person: the price, without the tag that named the invoice.
        invoice = Invoice.objects.get(pk=payload["invoice"]["id"])
        assert payload["invoice"]["amount_asked"] == invoice.asked.to_json()
        assert invoice.asked < invoice.due
        assert numbers_in(payload) == []
        assert signature_matches(webhook.secret, request)
    settled_event = next(r.json() for r in receiver.received if r.event == "invoice.settled")
    assert settled_event["txid"] == paid.txid
    assert settled_event["invoice"]["txids"] == [paid.txid]

    # when: the tasks run again, and a sweep long after
    for delivery in WebhookDelivery.objects.all():
        assert (
            deliver_webhook.apply_async((delivery.pk,), ignore_result=False).get(timeout=60)
            == "skipped"
        )
    assert sweep_at(timezone.now() + timedelta(days=30)) == 0

    # then: nothing is sent twice
    assert len(receiver.received) == 8


def test_an_invoice_event_handed_over_twice_is_queued_once(
    creator: Creator, fan: User, loopback_allowed: None
) -> None:
    # given: the invoice's creation queued its delivery (not sent: this test never commits)
    webhook = register(creator, "http://127.0.0.1:9/hook")
    invoice = purchase(fan, creator)

    # when
    again = events.queue_invoice_event(invoice, invoice.events.get(kind="created"))

    # then
    assert again == []
    assert [d.event for d in WebhookDelivery.objects.filter(webhook=webhook)] == ["invoice.created"]


def test_a_webhook_hears_only_the_events_it_listens_to(
    celery_worker: Child,
    creator: Creator,
    fan: User,
    receivers: Callable[..., Receiver],
    loopback_allowed: None,
) -> None:
    receiver = receivers()
    webhook = register(creator, receiver.url, events=["invoice.expired"])

    invoice = purchase(fan, creator)
    invoices.expire_invoices(now=invoice.expires_at + timedelta(seconds=1))
    wait_until_done(webhook, 1)

    assert [request.event for request in receiver.received] == ["invoice.expired"]


def test_a_webhook_of_another_creator_never_hears_this_creators_invoices(
    celery_worker: Child,
    creator: Creator,
    fan: User,
    receivers: Callable[..., Receiver],
    loopback_allowed: None,
) -> None:
    # given
    mine, theirs = receivers(), receivers()
    webhook = register(creator, mine.url)
    rival = other_creator()
    rivals_webhook = register(rival, theirs.url)

    # when: a fan buys from this creator, and the rival pings their own endpoint
    purchase(fan, creator)
    events.send_ping(rival.user, rivals_webhook.pk)
    wait_until_done(webhook, 1)
    wait_until_done(rivals_webhook, 1)

    # then
    assert [request.event for request in mine.received] == ["invoice.created"]
    assert [request.event for request in theirs.received] == ["ping"]
    assert list(
        WebhookDelivery.objects.filter(webhook=rivals_webhook).values_list("event", flat=True)
    ) == ["ping"]


def test_an_inactive_or_deleted_webhook_receives_nothing(
    celery_worker: Child,
    creator: Creator,
    fan: User,
    receivers: Callable[..., Receiver],
    loopback_allowed: None,
) -> None:
    # given: one webhook switched off, one deleted (through the API), one on
    off, gone, on = receivers(), receivers(), receivers()
    api = client_for(creator.user)
    off_hook, gone_hook, on_hook = (register(creator, r.url) for r in (off, gone, on))
    patched = api.patch(
        f"/api/v1/webhooks/{off_hook.pk}", {"active": False}, content_type="application/json"
    )
    deleted = api.delete(f"/api/v1/webhooks/{gone_hook.pk}")

    # when
    purchase(fan, creator)
    wait_until_done(on_hook, 1)

    # then
    assert (patched.status_code, patched.json()["active"], deleted.status_code) == (200, False, 204)
    assert [request.event for request in on.received] == ["invoice.created"]
    assert off.received == gone.received == []
    assert not WebhookDelivery.objects.filter(webhook=off_hook).exists()
    assert not Webhook.objects.filter(pk=gone_hook.pk).exists()


def test_a_delivery_queued_before_its_webhook_was_switched_off_or_deleted_is_not_sent(
    transactional_db: None,
    creator: Creator,
    receivers: Callable[..., Receiver],
    loopback_allowed: None,
) -> None:
    receiver = receivers()
    switched_off = a_delivery(register(creator, receiver.url))
    deleted = a_delivery(register(creator, receiver.url))
    Webhook.objects.filter(pk=switched_off.webhook_id).update(active=False)
    Webhook.objects.filter(pk=deleted.webhook_id).delete()

    assert deliver(switched_off.pk) == "failed"
    assert deliver(deleted.pk) == "skipped"

    switched_off.refresh_from_db()
    assert (switched_off.state, switched_off.last_error) == (
        Delivery.FAILED,
        "the webhook is disabled",
    )
    assert receiver.received == []


# --- retries ---------------------------------------------------------------------------------


def test_a_refused_delivery_is_retried_with_the_same_delivery_id(
    celery_worker: Child,
    creator: Creator,
    fan: User,
    receivers: Callable[..., Receiver],
    loopback_allowed: None,
) -> None:
    # given: an endpoint that answers 500 once, then 200
    receiver = receivers(500)
    webhook = register(creator, receiver.url)

    # when: the first attempt fails
    purchase(fan, creator)
    delivery = wait_for_attempt(delivery_of(webhook, "invoice.created"), 1)

    # then: it waits for the first back-off step
    assert (delivery.state, delivery.last_status_code) == (Delivery.PENDING, 500)
    assert delivery.last_error == "answered 500"
    assert delivery.next_attempt_at == delivery.last_attempt_at + retry_delays()[0]  # type: ignore[operator]
    assert delivery.next_attempt_at is not None

    # when: beat sweeps just before it is due, then when it is due
    assert sweep_at(delivery.next_attempt_at - timedelta(seconds=1)) == 0
    assert len(receiver.received) == 1
    assert sweep_at(delivery.next_attempt_at) == 1

    # then: the same delivery, the same body, delivered on the second attempt
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_status_code) == (
        Delivery.DELIVERED,
        2,
        200,
    )
    first, second = receiver.received
    assert first.delivery_id == second.delivery_id == str(delivery.delivery_id)
    assert first.body == second.body
    assert signature_matches(webhook.secret, second)


def test_an_endpoint_that_never_answers_is_given_up_after_the_last_attempt(
    celery_worker: Child,
    creator: Creator,
    fan: User,
    receivers: Callable[..., Receiver],
    loopback_allowed: None,
    settings: Any,
) -> None:
    # given: an endpoint that hangs up on every request (its breaker never opens, to see every
    # attempt; the sweeps run here)
    settings.PAYMENTS_WEBHOOK_BREAKER_FAILURES = 100
    attempts = max_attempts()
    receiver = receivers(*[CLOSE] * attempts)
    webhook = register(creator, receiver.url)
    purchase(fan, creator)
    delivery = delivery_of(webhook, "invoice.created")

    # when: beat sweeps each time a retry is due
    for attempt in range(1, attempts):
        delivery = wait_for_attempt(delivery, attempt)
        assert delivery.state == Delivery.PENDING
        assert delivery.last_status_code is None
        assert "RemoteProtocolError" in delivery.last_error
        assert delivery.next_attempt_at is not None
        assert delivery.last_attempt_at is not None
        assert delivery.next_attempt_at - delivery.last_attempt_at == retry_delays()[attempt - 1]
        sweep_at(delivery.next_attempt_at)
    delivery = wait_for_attempt(delivery, attempts)

    # then: given up, after as many requests as attempts, all one delivery
    assert (delivery.state, delivery.next_attempt_at) == (Delivery.FAILED, None)
    assert attempts == 9
    assert sum(retry_delays(), timedelta()) < timedelta(days=3)
    assert {request.delivery_id for request in receiver.received} == {str(delivery.delivery_id)}
    assert len(receiver.received) == attempts
    assert sweep_at(timezone.now() + timedelta(days=30)) == 0
    assert len(receiver.received) == attempts


def test_an_endpoint_that_hangs_is_timed_out_and_retried_later(
    transactional_db: None,
    creator: Creator,
    receivers: Callable[..., Receiver],
    loopback_allowed: None,
    settings: Any,
) -> None:
    settings.PAYMENTS_WEBHOOK_TIMEOUT_SECONDS = 0.5
    receiver = receivers(HOLD)
    delivery = a_delivery(register(creator, receiver.url))

    outcome = deliver(delivery.pk)

    delivery.refresh_from_db()
    assert outcome == "retry"
    assert "ReadTimeout" in delivery.last_error
    assert (delivery.state, delivery.attempts) == (Delivery.PENDING, 1)
    assert len(receiver.received) == 1


def test_two_workers_never_send_one_delivery_twice(
    transactional_db: None,
    creator: Creator,
    receivers: Callable[..., Receiver],
    loopback_allowed: None,
) -> None:
    # given: the first worker's request is held by the endpoint
    receiver = receivers(HOLD)
    delivery = a_delivery(register(creator, receiver.url))
    outcomes: list[str] = []

    def first_worker() -> None:
        try:
            outcomes.append(deliver(delivery.pk))
        finally:
            connection.close()

    thread = threading.Thread(target=first_worker)
    thread.start()
    wait_for(lambda: len(receiver.received) == 1, what="the first request")

    # when: a second worker (or a sweep) takes the same delivery meanwhile, and again after
    during = deliver(delivery.pk)
    during_sweep = sweep.deliver_due()
    receiver.released.set()
    thread.join(timeout=60)
    after = deliver(delivery.pk, now=timezone.now() + timedelta(days=30))

    # then: one request, one attempt
    assert (outcomes, during, during_sweep, after) == (["delivered"], "skipped", 0, "skipped")
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == (Delivery.DELIVERED, 1)
    assert len(receiver.received) == 1


# --- endpoints that are refused ----------------------------------------------------------------


HOSTILE_URLS = [
    "http://8.8.8.8/hook",  # not https
    "ftp://8.8.8.8/hook",
    "file:///etc/passwd",
    "javascript:alert(1)",
    "https://127.0.0.1/hook",
    "https://127.1.2.3:8443/hook",
    "https://localhost/hook",
    "https://[::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",
    "https://0.0.0.0/hook",
    "https://10.1.2.3/hook",
    "https://172.16.0.1/hook",
    "https://192.168.1.1/hook",
    "https://169.254.169.254/latest/meta-data/",
    "https://100.64.0.1/hook",
    "https://[fd00::1]/hook",
    "https://[fe80::1]/hook",
    "https://224.0.0.1/hook",
    "https://user:password@8.8.8.8/hook",
    "https://8.8.8.8:99999/hook",
    "https://no-such-host.invalid/hook",
    "https:///hook",
    "https://8.8.8.8/hook#fragment",
    "https://8.8.8.8/ hook",
    "https://8.8.8.8/" + "a" * 500,
]


@pytest.mark.parametrize("url", HOSTILE_URLS)
def test_endpoints_that_are_not_public_https_are_refused(creator: Creator, url: str) -> None:
    response = client_for(creator.user).post(
        "/api/v1/webhooks", {"url": url}, content_type="application/json"
    )

    assert response.status_code == 422, response.content
    assert not Webhook.objects.exists()


def test_a_public_https_endpoint_is_accepted(creator: Creator) -> None:
    response = client_for(creator.user).post(
        "/api/v1/webhooks", {"url": "https://8.8.8.8/hook"}, content_type="application/json"
    )

    assert response.status_code == 201
    assert Webhook.objects.get().url == "https://8.8.8.8/hook"


def test_moving_a_webhook_to_a_private_address_is_refused(
    creator: Creator, loopback_allowed: None, settings: Any
) -> None:
    webhook = register(creator, "https://8.8.8.8/hook")
    settings.PAYMENTS_WEBHOOK_ALLOW_PRIVATE = False

    response = client_for(creator.user).patch(
        f"/api/v1/webhooks/{webhook.pk}",
        {"url": "https://169.254.169.254/"},
        content_type="application/json",
    )

    assert response.status_code == 422
    webhook.refresh_from_db()
    assert webhook.url == "https://8.8.8.8/hook"


def test_an_endpoint_that_turned_private_after_registration_is_not_called(
    transactional_db: None, creator: Creator, loopback_allowed: None, settings: Any
) -> None:
    # given: registered while allowed (think: its name now resolves to an inside address)
    delivery = a_delivery(register(creator, "https://localhost:9/hook"))
    settings.PAYMENTS_WEBHOOK_ALLOW_PRIVATE = False

    # when
    outcome = deliver(delivery.pk)

    # then: the address is checked again at the attempt, before any connection
    delivery.refresh_from_db()
    assert outcome == "retry"
    assert delivery.last_error == "localhost is not a public address."
    assert (delivery.attempts, delivery.last_status_code) == (1, None)


def test_a_name_is_called_at_the_address_it_was_checked_at(
    transactional_db: None,
    creator: Creator,
    receivers: Callable[..., Receiver],
    loopback_allowed: None,
) -> None:
    receiver = receivers()
    url = f"http://localhost:{receiver.port}/hooks/btt?source=btt"
    delivery = a_delivery(register(creator, url))

    assert deliver(delivery.pk) == "delivered"

    (request,) = receiver.received
    assert request.headers["host"] == f"localhost:{receiver.port}"
    assert request.path == "/hooks/btt?source=btt"


# --- the API ---------------------------------------------------------------------------------


def test_the_secret_is_shown_on_creation_and_rotation_only(creator: Creator) -> None:
    api = client_for(creator.user)
    created = api.post(
        "/api/v1/webhooks",
        {"url": "https://8.8.8.8/hook", "events": ["invoice.settled"], "description": "shop"},
        content_type="application/json",
    ).json()
    webhook = Webhook.objects.get()

    listed = api.get("/api/v1/webhooks").json()
    rotated = api.post(f"/api/v1/webhooks/{webhook.pk}/secret").json()

    assert created["secret"] == webhook.secret
    assert created["secret"].startswith("whsec_")
    assert len(created["secret"]) == 54
    assert created["events"] == ["invoice.settled"]
    assert listed == [{k: v for k, v in created.items() if k != "secret"}]
    webhook.refresh_from_db()
    assert rotated["secret"] == webhook.secret != created["secret"]
    assert webhook.secret_rotated_at is not None
    assert webhook.secret not in json.dumps(api.get("/api/v1/webhooks").json())
    assert "secret" not in api.get("/api/v1/webhooks").json()[0]


def test_a_rotated_secret_signs_the_next_delivery(
    transactional_db: None,
    creator: Creator,
    receivers: Callable[..., Receiver],
    loopback_allowed: None,
) -> None:
    receiver = receivers()
    webhook = register(creator, receiver.url)
    old_secret = webhook.secret
    delivery = a_delivery(webhook)  # queued before the rotation
    new_secret = services.rotate_secret(creator.user, webhook.pk).secret

    assert deliver(delivery.pk) == "delivered"

    (request,) = receiver.received
    assert signature_matches(new_secret, request)
    assert not signature_matches(old_secret, request)


def test_a_creator_lists_the_recent_deliveries(creator: Creator, loopback_allowed: None) -> None:
    webhook = register(creator, "https://8.8.8.8/hook")
    delivery = a_delivery(webhook)

    response = client_for(creator.user).get(f"/api/v1/webhooks/{webhook.pk}/deliveries")

    assert response.status_code == 200
    (listed,) = response.json()
    assert listed["delivery_id"] == str(delivery.delivery_id)
    assert (listed["state"], listed["attempts"], listed["event"]) == (
        "pending",
        0,
        "invoice.created",
    )
    assert listed["payload"] == delivery.payload


def test_only_creators_have_webhooks(fan: User) -> None:
    api = client_for(fan)

    assert api.get("/api/v1/webhooks").status_code == 403
    created = api.post(
        "/api/v1/webhooks", {"url": "https://8.8.8.8/hook"}, content_type="application/json"
    )
    assert created.status_code == 403
    assert Client().get("/api/v1/webhooks").status_code == 401
    assert not Webhook.objects.exists()


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("patch", "", {"active": False, "url": "https://8.8.4.4/x"}),
        ("delete", "", None),
        ("post", "/secret", None),
        ("get", "/deliveries", None),
        ("post", "/ping", None),
    ],
)
def test_another_creators_webhook_is_not_found_and_unchanged(
    creator: Creator, method: str, suffix: str, body: dict[str, Any] | None
) -> None:
    webhook = register(creator, "https://8.8.8.8/hook")
    a_delivery(webhook)
    before = Webhook.objects.values().get()
    rival = client_for(other_creator().user)

    call = getattr(rival, method)
    kwargs: dict[str, Any] = {"content_type": "application/json"} if body else {}
    response = call(f"/api/v1/webhooks/{webhook.pk}{suffix}", *([body] if body else []), **kwargs)

    assert response.status_code == 404
    assert Webhook.objects.values().get() == before
    assert WebhookDelivery.objects.count() == 1


def test_unknown_events_are_refused(creator: Creator) -> None:
    response = client_for(creator.user).post(
        "/api/v1/webhooks",
        {"url": "https://8.8.8.8/hook", "events": ["invoice.paid"]},
        content_type="application/json",
    )
    empty = client_for(creator.user).post(
        "/api/v1/webhooks",
        {"url": "https://8.8.8.8/hook", "events": []},
        content_type="application/json",
    )

    assert (response.status_code, empty.status_code) == (422, 400)
    assert not Webhook.objects.exists()


def test_a_creator_has_at_most_ten_webhooks(creator: Creator) -> None:
    for _ in range(services.MAX_WEBHOOKS_PER_CREATOR):
        register(creator, "https://8.8.8.8/hook")

    response = client_for(creator.user).post(
        "/api/v1/webhooks", {"url": "https://8.8.8.8/hook"}, content_type="application/json"
    )

    assert response.status_code == 409
    assert Webhook.objects.count() == services.MAX_WEBHOOKS_PER_CREATOR


def test_the_schema_lists_the_webhook_endpoints(db: None) -> None:
    paths = Client().get("/api/v1/openapi.json").json()["paths"]

    assert {"get", "post"} <= set(paths["/api/v1/webhooks"])
    assert {"patch", "delete"} <= set(paths["/api/v1/webhooks/{webhook_id}"])
    assert "post" in paths["/api/v1/webhooks/{webhook_id}/secret"]
    assert "get" in paths["/api/v1/webhooks/{webhook_id}/deliveries"]
    assert "post" in paths["/api/v1/webhooks/{webhook_id}/ping"]


# --- the circuit breaker, fairness, the deliveries list --------------------------------------


def test_the_breaker_opens_after_n_failures_in_a_row_and_the_creator_sees_it_paused(
    transactional_db: None,
    creator: Creator,
    receivers: Callable[..., Receiver],
    loopback_allowed: None,
    settings: Any,
) -> None:
    # given: an endpoint that answers 500 to everything, and three deliveries more than the
    # breaker's threshold
    settings.PAYMENTS_WEBHOOK_BREAKER_FAILURES = 3
    receiver = receivers(*[500] * 10)
    webhook = register(creator, receiver.url)
    deliveries = [a_delivery(webhook) for _ in range(6)]

    # when: the sweep passes
    sweep_at(timezone.now())

    # then: three calls, then paused; the rest wait with no attempt spent
    webhook.refresh_from_db()
    assert len(receiver.received) == 3
    assert webhook.paused_at is not None
    assert webhook.consecutive_failures == 3
    assert "answered 500" in webhook.paused_reason
    untried = WebhookDelivery.objects.filter(webhook=webhook, attempts=0)
    assert untried.count() == 3
    listed = client_for(creator.user).get("/api/v1/webhooks").json()
    assert (listed[0]["paused"], listed[0]["consecutive_failures"]) == (True, 3)
    assert "answered 500" in listed[0]["paused_reason"]
    page = logged_in(creator.user).get("/studio/webhooks/")
    assert b"Paused" in page.content
    assert f"/studio/webhooks/{webhook.pk}/resume/".encode() in page.content

    # when: more sweeps, later on (the first attempts' retries due too), and direct attempts
    later = timezone.now() + timedelta(hours=1)
    assert sweep_at(later) == 0
    assert {deliver(delivery.pk, later) for delivery in deliveries} == {"paused"}

    # then: a paused endpoint gets no calls
    assert len(receiver.received) == 3
    assert untried.count() == 3


def test_a_resumed_endpoint_gets_its_waiting_deliveries(
    transactional_db: None,
    creator: Creator,
    receivers: Callable[..., Receiver],
    loopback_allowed: None,
    settings: Any,
) -> None:
    # given: a paused endpoint with deliveries waiting, that answers again
    settings.PAYMENTS_WEBHOOK_BREAKER_FAILURES = 2
    receiver = receivers(500, 500)
    webhook = register(creator, receiver.url)
    for _ in range(4):
        a_delivery(webhook)
    sweep_at(timezone.now())
    webhook.refresh_from_db()
    assert webhook.paused_at is not None

    # when: the creator resumes it (from the studio page), and the sweep passes
    response = logged_in(creator.user).post(f"/studio/webhooks/{webhook.pk}/resume/")
    assert response.status_code == 302
    delivered = sweep_at(timezone.now() + timedelta(hours=1))

    # then: all four delivered (two on their retry), the breaker closed
    resumed = Webhook.objects.get(pk=webhook.pk)
    assert delivered == 4
    assert (resumed.paused_at, resumed.consecutive_failures, resumed.paused_reason) == (None, 0, "")
    assert not WebhookDelivery.objects.filter(webhook=webhook).exclude(state=Delivery.DELIVERED)
    assert len(receiver.received) == 6
    assert client_for(creator.user).get("/api/v1/webhooks").json()[0]["paused"] is False


def test_the_api_resumes_a_paused_endpoint(creator: Creator, loopback_allowed: None) -> None:
    webhook = register(creator, "https://8.8.8.8/hook")
    Webhook.objects.filter(pk=webhook.pk).update(
        paused_at=timezone.now(), paused_reason="5 failed", consecutive_failures=5
    )

    response = client_for(creator.user).post(f"/api/v1/webhooks/{webhook.pk}/resume")
    other = client_for(other_creator().user).post(f"/api/v1/webhooks/{webhook.pk}/resume")

    assert response.status_code == 200
    assert (response.json()["paused"], response.json()["paused_at"]) == (False, None)
    assert other.status_code == 404


def test_after_the_cool_down_one_trial_delivery_decides(
    transactional_db: None,
    creator: Creator,
    receivers: Callable[..., Receiver],
    loopback_allowed: None,
    settings: Any,
) -> None:
    # given: a paused endpoint whose cool-down is over, that fails the first trial
    settings.PAYMENTS_WEBHOOK_BREAKER_FAILURES = 1
    receiver = receivers(500)
    webhook = register(creator, receiver.url)
    for _ in range(3):
        a_delivery(webhook)
    cooled = timezone.now() - breaker.breaker_cooldown() - timedelta(seconds=1)
    Webhook.objects.filter(pk=webhook.pk).update(paused_at=cooled, consecutive_failures=1)

    # when: the sweep passes twice
    first = sweep_at(timezone.now())
    webhook.refresh_from_db()
    paused_again = webhook.paused_at
    second = sweep_at(timezone.now())

    # then: one trial, failed: paused again, with a new cool-down, and nothing more sent
    assert (first, second, len(receiver.received)) == (0, 0, 1)
    assert paused_again is not None
    assert paused_again > cooled

    # when: the cool-down is over again and the trial succeeds
    Webhook.objects.filter(pk=webhook.pk).update(paused_at=cooled)
    delivered = sweep_at(timezone.now() + timedelta(hours=1))

    # then: closed, and the rest went out in the same pass
    webhook.refresh_from_db()
    assert delivered == 3
    assert webhook.paused_at is None


def test_the_sweep_is_fair_across_endpoints(
    transactional_db: None,
    creator: Creator,
    receivers: Callable[..., Receiver],
    loopback_allowed: None,
    settings: Any,
) -> None:
    # given: endpoint A with 50 due deliveries, older than endpoint B's one
    settings.PAYMENTS_WEBHOOK_SWEEP_PER_ENDPOINT = 10
    a_receiver, b_receiver = receivers(), receivers()
    a = register(creator, a_receiver.url)
    b = register(other_creator(), b_receiver.url)
    for _ in range(50):
        a_delivery(a)
    b_delivery = a_delivery(b)

    # when: one pass of the sweep, as the workers run it (a task per endpoint)
    queued = sweep.endpoints_to_queue()
    again = sweep.endpoints_to_queue()
    outcomes = {webhook_pk: deliver_endpoint(webhook_pk) for webhook_pk in queued}

    # then: both endpoints got a task of their own, once; A at most its share, B its delivery
    assert sorted(queued) == sorted([a.pk, b.pk])
    assert again == []
    assert outcomes[a.pk] == ["delivered"] * 10
    assert outcomes[b.pk] == ["delivered"]
    b_delivery.refresh_from_db()
    assert b_delivery.state == Delivery.DELIVERED
    assert len(a_receiver.received) == 10

    # when: the sweep passes four times more
    for _ in range(4):
        sweep_at(timezone.now())

    # then: A's deliveries all went, 10 a pass
    assert len(a_receiver.received) == 50


def test_one_attempt_at_a_time_per_endpoint(
    transactional_db: None,
    creator: Creator,
    receivers: Callable[..., Receiver],
    loopback_allowed: None,
) -> None:
    # given: the endpoint holds the first request
    receiver = receivers(HOLD)
    webhook = register(creator, receiver.url)
    first, second = a_delivery(webhook), a_delivery(webhook)
    outcomes: list[str] = []

    def first_worker() -> None:
        try:
            outcomes.append(deliver(first.pk))
        finally:
            connection.close()

    thread = threading.Thread(target=first_worker)
    thread.start()
    wait_for(lambda: len(receiver.received) == 1, what="the first request")

    # when: another delivery to the same endpoint is attempted meanwhile
    during = deliver(second.pk)
    swept = sweep.due_endpoints()
    receiver.released.set()
    thread.join(timeout=60)

    # then: it waited (no attempt spent) and goes once the endpoint is free
    second.refresh_from_db()
    assert (during, swept, second.attempts) == ("skipped", [], 0)
    assert outcomes == ["delivered"]
    assert sweep_at(timezone.now()) == 1
    assert len(receiver.received) == 2


def test_the_deliveries_list_is_paged_and_filtered(
    creator: Creator, loopback_allowed: None
) -> None:
    # given: 120 deliveries, 5 of them failed pings
    webhook = register(creator, "https://8.8.8.8/hook")
    for _ in range(115):
        a_delivery(webhook)
    for _ in range(5):
        WebhookDelivery.objects.create(
            webhook=webhook, event="ping", payload={}, state=Delivery.FAILED
        )
    client = client_for(creator.user)
    base = f"/api/v1/webhooks/{webhook.pk}/deliveries"

    # when/then: pages of the API
    first = client.get(base)
    assert (len(first.json()), first["X-Total-Count"]) == (50, "120")
    assert 'rel="next"' in first["Link"]
    assert "page=2" in first["Link"]
    third = client.get(base, {"page": 3})
    assert len(third.json()) == 20
    assert not third.has_header("Link")
    ids = {d["delivery_id"] for page in (1, 2, 3) for d in client.get(base, {"page": page}).json()}
    assert len(ids) == 120
    assert len(client.get(base, {"page_size": 100}).json()) == 100
    assert client.get(base, {"page_size": 1000}).status_code == 400
    assert client.get(base, {"page": 0}).status_code == 400

    # and filters
    failed = client.get(base, {"state": "failed"}).json()
    assert [d["event"] for d in failed] == ["ping"] * 5
    pings = client.get(base, {"event": "ping", "state": "pending"})
    assert (pings.json(), pings["X-Total-Count"]) == ([], "0")
    assert client.get(base, {"event": "invoice.created"})["X-Total-Count"] == "115"
    assert client.get(base, {"state": "lost"}).status_code == 422
    assert client.get(base, {"event": "nope"}).status_code == 400

    # and the studio page
    client = logged_in(creator.user)
    studio = client.get(f"/studio/webhooks/{webhook.pk}/deliveries/", {"state": "failed"})
    assert studio.status_code == 200
    assert studio.content.count(b'class="delivery"') == 5
    paged = client.get(f"/studio/webhooks/{webhook.pk}/deliveries/", {"page": 3})
    assert paged.content.count(b'class="delivery"') == 20
    assert client.get(f"/studio/webhooks/{webhook.pk}/deliveries/", {"event": "x"}).status_code == (
        400
    )
    other = logged_in(other_creator().user)
    assert other.get(f"/studio/webhooks/{webhook.pk}/deliveries/").status_code == 404


def test_an_endpoint_that_trickles_its_answer_is_cut_off_at_the_total_timeout(
    transactional_db: None, creator: Creator, loopback_allowed: None, settings: Any
) -> None:
    # given: an endpoint that sends a byte of its status line every 0.2 s, never finishing:
    # each read is well inside the 1 s read timeout
    settings.PAYMENTS_WEBHOOK_TIMEOUT_SECONDS = 1.0
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    stop = threading.Event()

    def trickle() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            for byte in itertools.cycle(b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 100):
                if stop.wait(0.2):
                    return
                try:
                    connection.sendall(bytes([byte]))
                except OSError:
                    return

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/hook"
    delivery = a_delivery(register(creator, url))

    # when
    try:
        outcome = deliver(delivery.pk)
    finally:
        stop.set()
        listener.close()

    # then: given up on after twice the timeout (2 s), not held for as long as it trickles
    delivery.refresh_from_db()
    assert outcome == "retry"
    assert "no answer within 2 s in all" in delivery.last_error
