"""Celery tasks of the swarm: thin wrappers that take ids and are safe to run twice."""

from __future__ import annotations

import asyncio

from celery import shared_task

from swarm import ingest, tracker


@shared_task(name="swarm.ingest_content")
def ingest_content(content_id: int) -> None:
    """Hash a published content into its torrent and make it seed (see ingest.hash_content)."""
    ingest.hash_content(content_id)


@shared_task(name="swarm.purge_expired_uploads")
def purge_expired_uploads() -> int:
    """Free the space and quota of unfinished uploads left past their expiry."""
    return ingest.purge_expired_uploads()


@shared_task(name="swarm.flush_transfer_totals")
def flush_transfer_totals() -> int:
    """Write pending tracker deltas even when no announce arrives to trigger the flush."""
    return asyncio.run(tracker.flush_transfer_totals())


@shared_task(name="swarm.requeue_stalled_hashing")
def requeue_stalled_hashing() -> int:
    """Queue again the hashing of contents whose run died or whose task the queue lost."""
    return ingest.requeue_stalled_hashing()
