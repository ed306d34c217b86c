from celery import shared_task

from memberships import post_mail, renewals


@shared_task(name="memberships.renew_memberships")
def renew_memberships() -> int:
    """Issue due renewal invoices; move memberships into grace, lapsed and ended by time."""
    return renewals.renew_memberships()


@shared_task(name="memberships.send_post_digests")
def send_post_digests() -> int:
    """Email members the posts published since the last run, one email each (the outbox)."""
    return post_mail.send_digests()
