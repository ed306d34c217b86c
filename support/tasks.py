"""Celery tasks of support: thin, safe to run twice."""

from __future__ import annotations

from celery import shared_task

from support import campaigns


@shared_task(name="support.close_campaigns")
def close_campaigns() -> int:
    """Close campaigns past their deadline and invoice the backers of those that met an
    all-or-nothing goal (beat, every minute)."""
    return campaigns.close_due_campaigns()
