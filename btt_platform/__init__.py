"""The project package (named btt_platform: a top-level ``platform`` shadows the stdlib module)."""

from btt_platform.celery import app as celery_app

__all__ = ["celery_app"]
