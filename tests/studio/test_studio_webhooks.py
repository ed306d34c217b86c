"""Webhook settings in the studio: list, add (secret shown once), switch, rotate, delete."""

from __future__ import annotations

import pytest
from pytest_django.fixtures import Settings

from accounts.models import User
from creators.models import Creator
from payments.models import Webhook
from tests.creators.studio import other_creator
from tests.fixtures.sessions import logged_in

URL = "http://127.0.0.1:9/hooks"


@pytest.fixture(autouse=True)
def private_targets(settings: Settings) -> None:
    # No public DNS here: let the endpoints be on loopback, as in development.
    settings.PAYMENTS_WEBHOOK_ALLOW_PRIVATE = True


def test_adding_a_webhook_shows_its_secret_once(creator: Creator) -> None:
    client = logged_in(creator.user)

    response = client.post(
        "/studio/webhooks/",
        {"url": URL, "events": ["invoice.settled", "invoice.invalid"], "description": "shop"},
    )

    webhook = Webhook.objects.get(creator=creator)
    assert response.status_code == 200
    assert webhook.url == URL
    assert webhook.events == ["invoice.settled", "invoice.invalid"]
    assert webhook.description == "shop"
    assert webhook.secret.encode() in response.content
    assert webhook.secret.encode() not in client.get("/studio/webhooks/").content


def test_a_refused_url_is_a_form_error_and_nothing_is_added(
    creator: Creator, settings: Settings
) -> None:
    settings.PAYMENTS_WEBHOOK_ALLOW_PRIVATE = False

    response = logged_in(creator.user).post(
        "/studio/webhooks/", {"url": "http://127.0.0.1/x", "events": ["invoice.settled"]}
    )

    assert response.status_code == 400
    assert b"starts with https://" in response.content
    assert not Webhook.objects.exists()


def test_rotate_switch_and_delete(creator: Creator) -> None:
    client = logged_in(creator.user)
    client.post("/studio/webhooks/", {"url": URL, "events": ["invoice.settled"]})
    webhook = Webhook.objects.get()
    old_secret = webhook.secret

    rotated = client.post(f"/studio/webhooks/{webhook.pk}/secret/")
    webhook.refresh_from_db()
    assert webhook.secret != old_secret
    assert webhook.secret.encode() in rotated.content
    assert old_secret.encode() not in rotated.content

    client.post(f"/studio/webhooks/{webhook.pk}/toggle/")
    webhook.refresh_from_db()
    assert webhook.active is False
    assert b"Switch on" in client.get("/studio/webhooks/").content

    client.post(f"/studio/webhooks/{webhook.pk}/delete/")
    assert not Webhook.objects.exists()
    assert b"No webhooks yet" in client.get("/studio/webhooks/").content


def test_another_creator_or_a_fan_cannot_touch_a_webhook(creator: Creator, fan: User) -> None:
    logged_in(creator.user).post("/studio/webhooks/", {"url": URL, "events": ["invoice.settled"]})
    webhook = Webhook.objects.get()
    rival = logged_in(other_creator().user)
    fan_client = logged_in(fan)

    statuses = [
        rival.post(f"/studio/webhooks/{webhook.pk}/{action}/").status_code
        for action in ("secret", "toggle", "delete")
    ] + [
        fan_client.post(f"/studio/webhooks/{webhook.pk}/{action}/").status_code
        for action in ("secret", "toggle", "delete")
    ]

    assert statuses == [404, 404, 404, 403, 403, 403]
    assert Webhook.objects.get() == webhook
    fresh = Webhook.objects.get()
    assert (fresh.secret, fresh.active) == (webhook.secret, True)
    assert webhook.url.encode() not in rival.get("/studio/webhooks/").content


def test_actions_are_posts_only(creator: Creator) -> None:
    logged_in(creator.user).post("/studio/webhooks/", {"url": URL, "events": ["invoice.settled"]})
    webhook = Webhook.objects.get()

    response = logged_in(creator.user).get(f"/studio/webhooks/{webhook.pk}/delete/")

    assert response.status_code == 405
    assert Webhook.objects.filter(pk=webhook.pk).exists()
