"""Outgoing email, as an outbox: no requested email lives only in a queue.

``queue_email`` writes an ``OutgoingEmail`` row in the caller's transaction and, after commit,
queues its sending (``accounts.tasks.deliver_email``) as the fast path. ``deliver`` sends a row
once: it claims the row first, so a task delivered twice, or the sweep racing the task, sends
nothing more. ``send_unsent`` is the sweep (beat, every 30 s): rows whose task was lost (a
Redis restart, a purge, a worker killed mid-send) or whose send failed are sent from there.

A worker killed between the mail server's acceptance and the row's update sends that email
again after the claim lapses: at least once, as any mail relay.
"""

from __future__ import annotations

import logging
import smtplib
from datetime import timedelta

from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import OutgoingEmail

logger = logging.getLogger(__name__)

# A claimed row is not sent by anyone else for this long: well above a send's worst case
# (EMAIL_TIMEOUT per mail server operation).
CLAIM = timedelta(seconds=90)
# The sweep leaves younger rows to their task.
SWEEP_AFTER = timedelta(seconds=5)
# Failed sends are retried after 1, 2, 4 ... minutes (at most an hour), this many times.
MAX_ATTEMPTS = 12


def queue_email(
    subject: str,
    body: str,
    to: list[str],
    from_email: str | None = None,
    html: str | None = None,
) -> OutgoingEmail:
    """Owe ``to`` this email: recorded now (with the caller's transaction), sent after commit."""
    from accounts.tasks import deliver_email

    email = record(subject, body, to, from_email, html)
    # robust: with the broker away the request still succeeds; the sweep sends the row.
    transaction.on_commit(lambda: deliver_email.delay(email.pk), robust=True)
    return email


def record(
    subject: str,
    body: str,
    to: list[str],
    from_email: str | None = None,
    html: str | None = None,
) -> OutgoingEmail:
    return OutgoingEmail.objects.create(
        subject=subject,
        body=body,
        to=list(to),
        from_email=from_email or "",
        html=html or "",
        next_attempt_at=timezone.now(),
    )


def _retry_after(attempts: int) -> timedelta:
    return timedelta(seconds=min(60 * 2 ** max(attempts - 1, 0), 3600))


def deliver(email_id: int) -> bool:
    """Send row ``email_id`` unless it is sent, claimed by another sender, or not due; whether
    this call sent it. A failed send is kept with its error for the sweep to retry."""
    now = timezone.now()
    claimed = OutgoingEmail.objects.filter(
        pk=email_id, sent_at__isnull=True, next_attempt_at__lte=now, attempts__lt=MAX_ATTEMPTS
    ).update(next_attempt_at=now + CLAIM, attempts=F("attempts") + 1)
    if not claimed:
        return False
    email = OutgoingEmail.objects.get(pk=email_id)
    message = EmailMultiAlternatives(
        email.subject, email.body, email.from_email or None, list(email.to)
    )
    if email.html:
        message.attach_alternative(email.html, "text/html")
    try:
        message.send()
    except (OSError, smtplib.SMTPException) as error:
        logger.warning("email %s: sending failed (attempt %s): %s", email_id, email.attempts, error)
        OutgoingEmail.objects.filter(pk=email_id, sent_at__isnull=True).update(
            next_attempt_at=timezone.now() + _retry_after(email.attempts),
            last_error=str(error)[:2000],
        )
        return False
    OutgoingEmail.objects.filter(pk=email_id).update(sent_at=timezone.now(), last_error="")
    return True


def send_unsent(limit: int = 200) -> int:
    """The sweep: send the rows that are due and older than SWEEP_AFTER; returns how many."""
    now = timezone.now()
    due = OutgoingEmail.objects.filter(
        sent_at__isnull=True,
        attempts__lt=MAX_ATTEMPTS,
        created_at__lt=now - SWEEP_AFTER,
        next_attempt_at__lte=now,
    ).order_by("created_at")
    return sum(deliver(pk) for pk in due.values_list("pk", flat=True)[:limit])
