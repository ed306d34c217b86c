"""A real Celery worker process over the real broker runs the platform's tasks."""

from __future__ import annotations

from pathlib import Path

from django.test import Client

from accounts.models import User
from btt_platform.celery import app
from tests.fixtures.processes import Child, wait_for


def test_worker_answers_a_broadcast_ping(celery_worker: Child) -> None:
    replies = app.control.ping(destination=[celery_worker.name], timeout=2)

    assert replies == [{celery_worker.name: {"ok": "pong"}}]


def test_password_reset_email_is_sent_by_the_worker(
    celery_worker: Child, fan: User, tmp_path: Path
) -> None:
    # given: a fan who forgot their password
    client = Client()

    # when: they ask for a reset
    response = client.post("/accounts/password_reset/", {"email": fan.email})

    # then: the page answers at once and the worker process writes the email
    assert response.status_code == 302
    mail_dir = tmp_path / "mail"
    wait_for(lambda: mail_dir.exists() and any(mail_dir.iterdir()), what="the reset email")
    (message_file,) = mail_dir.iterdir()
    message = message_file.read_text()
    assert f"To: {fan.email}" in message
    assert "/accounts/reset/" in message

    # and the link in it lets the fan choose a new password
    link = next(line for line in message.splitlines() if "/accounts/reset/" in line).strip()
    path = link[link.index("/accounts/reset/") :]
    form = client.get(path, follow=True)
    assert form.status_code == 200
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "a new long passphrase 7", "new_password2": "a new long passphrase 7"},
    )
    assert done.status_code == 302
    fan.refresh_from_db()
    assert fan.check_password("a new long passphrase 7")


def test_unknown_email_sends_nothing_and_says_the_same(
    celery_worker: Child, fan: User, tmp_path: Path
) -> None:
    client = Client()

    unknown = client.post("/accounts/password_reset/", {"email": "nobody@example.com"})
    known = client.post("/accounts/password_reset/", {"email": fan.email})

    # The same answer either way: the form does not tell who has an account.
    assert unknown.status_code == known.status_code == 302
    assert unknown["Location"] == known["Location"] == "/accounts/password_reset/done/"
    # The solo worker runs tasks in order: once the fan's email exists, an email for the
    # unknown address would already exist too.
    mail_dir = tmp_path / "mail"
    wait_for(lambda: mail_dir.exists() and any(mail_dir.iterdir()), what="the fan's email")
    messages = [f.read_text() for f in mail_dir.iterdir()]
    assert len(messages) == 1
    assert f"To: {fan.email}" in messages[0]
