"""Taking content down and restoring it through the staff pages: what changes, who is told, what
the audit log says, and that refused requests change nothing."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing.websocket import WebsocketCommunicator
from django.test import Client

from accounts.models import User
from btt_platform.celery import app as celery_app
from btt_site.asgi import application
from creators.models import Creator
from staff.models import AuditEntry
from swarm import services
from swarm.models import Content
from tests.fixtures.content import published
from tests.fixtures.sessions import logged_in


def snapshot(content: Content) -> tuple[str, str, int]:
    content.refresh_from_db()
    return content.state, content.state_detail, AuditEntry.objects.count()


@pytest.mark.django_db
def test_a_takedown_removes_the_content_with_its_reason_and_a_restore_brings_it_back(
    moderator: User, creator: Creator, fan: User
) -> None:
    # given
    content = published(creator)
    staff = logged_in(moderator)
    # when
    taken = staff.post(
        f"/staff/moderation/{content.pk}/takedown", {"reason": "  Copyright claim #41  "}
    )
    page_removed = logged_in(fan).get(f"/content/{content.pk}/")
    listed = staff.get("/staff/moderation/", {"state": "removed"})
    # then
    assert taken.status_code == 302
    assert snapshot(content) == (Content.State.REMOVED, "Copyright claim #41", 1)
    assert page_removed.status_code == 410
    assert b"was removed by the platform's moderators: Copyright claim #41" in page_removed.content
    assert f'data-content-id="{content.pk}"'.encode() in listed.content
    studio = logged_in(creator.user).get(f"/studio/content/{content.pk}/")
    assert studio.status_code == 200
    assert b"Copyright claim #41" in studio.content
    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.action, entry.target, entry.reason, entry.detail) == (
        moderator,
        AuditEntry.Action.TAKEDOWN,
        f"swarm.content#{content.pk}",
        "Copyright claim #41",
        {"from_state": "seeding"},
    )

    # when
    restored = staff.post(f"/staff/moderation/{content.pk}/restore", {"note": "claim withdrawn"})
    # then
    assert restored.status_code == 302
    assert snapshot(content) == (Content.State.SEEDING, "", 2)
    assert logged_in(fan).get(f"/content/{content.pk}/").status_code == 200
    latest = AuditEntry.objects.first()
    assert latest is not None
    assert (latest.action, latest.reason, latest.detail) == (
        AuditEntry.Action.RESTORE,
        "claim withdrawn",
        {"removed_for": "Copyright claim #41"},
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "data", "status", "message"),
    [
        ("takedown", {"reason": "   "}, 400, b"reason: This field is required."),
        ("takedown", {}, 400, b"reason: This field is required."),
        ("takedown", {"reason": "x" * 501}, 400, b"at most 500 characters"),
        ("restore", {"note": "not removed"}, 409, b"Only content that was taken down"),
    ],
)
def test_refused_moderation_says_why_and_changes_nothing(
    moderator: User, creator: Creator, path: str, data: dict[str, str], status: int, message: bytes
) -> None:
    content = published(creator)
    before = snapshot(content)

    response = logged_in(moderator).post(f"/staff/moderation/{content.pk}/{path}", data)

    assert response.status_code == status
    assert message in response.content
    assert snapshot(content) == before


@pytest.mark.django_db
def test_content_still_hashing_cannot_be_taken_down_and_unknown_content_is_404(
    moderator: User, creator: Creator
) -> None:
    content = published(creator)
    Content.objects.filter(pk=content.pk).update(state=Content.State.HASHING)
    staff = logged_in(moderator)

    hashing = staff.post(f"/staff/moderation/{content.pk}/takedown", {"reason": "spam"})
    missing = staff.post("/staff/moderation/999999/takedown", {"reason": "spam"})
    get = staff.get(f"/staff/moderation/{content.pk}/takedown")

    assert (hashing.status_code, missing.status_code, get.status_code) == (409, 404, 405)
    assert snapshot(content) == (Content.State.HASHING, "", 0)


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["finance", "staff", "fan"])
def test_only_moderators_take_down_or_restore(
    persona: str, creator: Creator, request: pytest.FixtureRequest
) -> None:
    content = published(creator)
    removed = published(creator, "Other")
    Content.objects.filter(pk=removed.pk).update(state=Content.State.REMOVED, state_detail="x")
    client = logged_in(request.getfixturevalue(persona))

    takedown = client.post(f"/staff/moderation/{content.pk}/takedown", {"reason": "mine"})
    restore = client.post(f"/staff/moderation/{removed.pk}/restore", {})

    assert (takedown.status_code, restore.status_code) == (403, 403)
    assert snapshot(content) == (Content.State.SEEDING, "", 0)
    assert snapshot(removed) == (Content.State.REMOVED, "x", 0)


async def _notifications_of(user: User) -> WebsocketCommunicator:
    client = Client()
    await sync_to_async(client.force_login)(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    socket = WebsocketCommunicator(
        application,
        "/ws/notifications/",
        headers=[(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1"), (b"cookie", cookie)],
    )
    connected, _ = await socket.connect()
    assert connected
    return socket


@pytest.mark.django_db(transaction=True)
async def test_the_creator_is_told_of_the_takedown_and_the_restore_and_nobody_else(
    moderator: User, creator: Creator, fan: User
) -> None:
    content = await sync_to_async(published)(creator)
    owner = await _notifications_of(creator.user)
    other = await _notifications_of(fan)

    await sync_to_async(services.take_down_content)(moderator, content.pk, "Fake release")
    await sync_to_async(services.restore_content)(moderator, content.pk)

    assert await owner.receive_json_from(timeout=5) == {
        "type": "content.removed",
        "content_id": content.pk,
        "title": "Concert",
        "reason": "Fake release",
    }
    assert await owner.receive_json_from(timeout=5) == {
        "type": "content.restored",
        "content_id": content.pk,
        "title": "Concert",
    }
    assert await other.receive_nothing(timeout=0.5)
    await owner.disconnect()
    await other.disconnect()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "/staff/moderation/99999999999999999999999/takedown",
        "/staff/moderation/99999999999999999999999/restore",
    ],
)
def test_an_id_beyond_any_row_is_404(moderator: User, url: str) -> None:
    response = logged_in(moderator).post(url, {"reason": "spam"})

    assert response.status_code == 404
    assert not AuditEntry.objects.exists()


@pytest.mark.django_db
def test_the_creator_gets_an_email_with_the_reason_and_another_on_restore(
    moderator: User,
    creator: Creator,
    mailoutbox: list[Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    content = published(creator)
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True  # the worker's task, run here: nothing queued
    try:
        with django_capture_on_commit_callbacks(execute=True):
            services.take_down_content(moderator, content.pk, "Fake release")
        with django_capture_on_commit_callbacks(execute=True):
            services.restore_content(moderator, content.pk)
    finally:
        celery_app.conf.task_always_eager = eager

    assert [(m.to, m.subject) for m in mailoutbox] == [
        (["maker@example.com"], "“Concert” was taken down"),
        (["maker@example.com"], "“Concert” is back"),
    ]
    assert "Reason: Fake release" in mailoutbox[0].body
