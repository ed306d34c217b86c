from __future__ import annotations

from celery import shared_task

from accounts import mail


@shared_task(name="accounts.deliver_email")
def deliver_email(email_id: int) -> bool:
    """Send one outbox row from the worker, so a slow mail server never delays a page; a second
    delivery sends nothing (``accounts.mail.deliver``)."""
    return mail.deliver(email_id)


@shared_task(name="accounts.send_unsent_emails")
def send_unsent_emails() -> int:
    """The sweep: emails whose task was lost, or whose send failed and is due again."""
    return mail.send_unsent()


@shared_task
def send_email(
    subject: str, body: str, to: list[str], from_email: str | None = None, html: str | None = None
) -> None:
    """Tasks queued before the outbox (the queue now survives a restart): recorded, then sent.
    New code calls ``accounts.mail.queue_email``."""
    mail.deliver(mail.record(subject, body, to, from_email, html).pk)
