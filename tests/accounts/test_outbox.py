"""Every requested email is a row first: sent by the worker, or by the sweep when its task was
lost; a row is sent once however many times its sending is asked for."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.core import mail
from django.db import transaction
from django.test import Client

from accounts import mail as outbox
from accounts import tasks as account_tasks
from accounts.models import OutgoingEmail, User
from accounts.tasks import deliver_email
from tests.fixtures.processes import Child, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


class LostQueue:
    """Stands in for the sending task: what is sent to it is lost, as a Redis restarted without
    persistence or a purge lost it (and nothing reaches a broker other test runs may share)."""

    def __init__(self) -> None:
        self.sent: list[int] = []

    def delay(self, email_id: int) -> None:
        self.sent.append(email_id)


def test_a_reset_email_requested_while_the_queue_is_lost_is_sent_by_the_sweep(
    fan: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: a password reset asked for, and its queued task lost before any worker ran
    lost = LostQueue()
    with monkeypatch.context() as patch:
        patch.setattr(account_tasks, "deliver_email", lost)
        response = Client().post("/accounts/password_reset/", {"email": fan.email})
    assert response.status_code == 302
    assert len(lost.sent) == 1
    (row,) = OutgoingEmail.objects.all()
    assert row.to == [fan.email]
    assert row.sent_at is None
    assert mail.outbox == []

    # when: the sweep runs (beat, every 30 s) once the row is older than the task's head start
    wait_for(lambda: outbox.send_unsent() == 1, what="the sweep to send the email")

    # then: sent once, with the reset link
    (sent,) = mail.outbox
    assert sent.to == [fan.email]
    assert "/accounts/reset/" in sent.body
    row.refresh_from_db()
    assert row.sent_at is not None
    assert row.attempts == 1
    # and the sweep sends nothing more
    assert outbox.send_unsent() == 0
    assert len(mail.outbox) == 1


def test_sending_a_row_twice_sends_it_once(celery_worker: Child, tmp_path: Path) -> None:
    # given: an email owed; the worker sends it after commit
    with transaction.atomic():
        row = outbox.queue_email("Receipt", "Thanks.", ["buyer@example.com"])
    mail_dir = tmp_path / "mail"

    def sent() -> list[Path]:
        return list(mail_dir.iterdir()) if mail_dir.exists() else []

    wait_for(lambda: OutgoingEmail.objects.get(pk=row.pk).sent_at is not None, what="the send")
    assert len(sent()) == 1

    # when: its sending is asked for again, by a second task and in this process
    asked = deliver_email.apply_async((row.pk,), ignore_result=False)
    assert asked.get(timeout=60) is False
    assert outbox.deliver(row.pk) is False
    # and the worker (one task at a time) kept the result of the task asked for, not that of the
    # first: nothing waits for a task's result, so queuing never touches the result store
    stored = redis.Redis.from_url(settings.REDIS_URL).keys("celery-task-meta-*")
    assert stored == [f"celery-task-meta-{asked.id}".encode()]
    assert outbox.send_unsent() == 0

    # then: still the one email
    assert len(sent()) == 1
    assert "To: buyer@example.com" in sent()[0].read_text()
    assert mail.outbox == []


def test_a_failed_send_is_kept_and_retried_by_the_sweep(
    fan: User, settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: the mail server refuses the first send
    row = outbox.record("Hello", "Body", [fan.email])
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9  # nothing listens on discard
    assert outbox.deliver(row.pk) is False
    row.refresh_from_db()
    assert (row.sent_at, row.attempts) == (None, 1)
    assert row.last_error

    # when: the mail server is back and the retry is due
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    OutgoingEmail.objects.filter(pk=row.pk).update(
        created_at=row.created_at - outbox.SWEEP_AFTER * 2,
        next_attempt_at=row.next_attempt_at - outbox._retry_after(1),
    )
    assert outbox.send_unsent() == 1

    # then
    row.refresh_from_db()
    assert row.sent_at is not None
    assert (row.attempts, row.last_error) == (2, "")
    assert [m.to for m in mail.outbox] == [[fan.email]]
