"""The digest through a real Celery worker: the beat's task, run by the worker process, writes
the member's one email to the outbox and the worker sends it."""

from __future__ import annotations

from pathlib import Path

from accounts.models import OutgoingEmail, User
from creators.models import Creator
from memberships import posts
from memberships.tasks import send_post_digests
from tests.fixtures.processes import Child, wait_for
from tests.memberships.posting import member, tiers


def test_the_worker_sends_one_digest_for_two_posts(
    celery_worker: Child, creator: Creator, fan: User, stranger: User, tmp_path: Path
) -> None:
    # given: a member, a stranger, and two posts for members
    low, _ = tiers(creator)
    member(fan, low)
    OutgoingEmail.objects.all().delete()
    posts.publish_post(creator, title="Studio diary", body="x", tier=low)
    posts.publish_post(creator, title="Tour dates", body="y", tier=low)
    # when: the beat's task is queued
    send_post_digests.delay()
    # then: the worker writes and sends one email, to the member only
    mail_dir = tmp_path / "mail"
    wait_for(lambda: mail_dir.exists() and any(mail_dir.iterdir()), what="the digest email")
    wait_for(lambda: OutgoingEmail.objects.filter(sent_at__isnull=False).exists(), what="sent")
    (email,) = OutgoingEmail.objects.all()
    assert email.to == [fan.email]
    assert "Studio diary" in email.body
    assert "Tour dates" in email.body
    (message_file,) = mail_dir.iterdir()
    assert f"To: {fan.email}" in message_file.read_text()
