"""Celery tasks of the swarm: thin wrappers that take ids and are safe to run twice.

``swarm.ingest_content``, the hashing of a published content, is defined in ``swarm.hashing``
beside what it runs, since publishing and the stalled-hashing sweep queue it there; importing
``hashing`` here registers it with the worker, which finds tasks through this module. Tasks
import the services, never the other way.
"""

from __future__ import annotations

import asyncio

from celery import shared_task

from swarm import hashing, placement, uploads_store
from swarm.tracker import transfers


@shared_task(name="swarm.purge_expired_uploads")
def purge_expired_uploads() -> int:
    """Free the space and quota of unfinished uploads left past their expiry."""
    return uploads_store.purge_expired_uploads()


@shared_task(name="swarm.flush_transfer_totals")
def flush_transfer_totals() -> int:
    """Write pending tracker deltas even when no announce arrives to trigger the flush."""
    return asyncio.run(transfers.flush_transfer_totals())


@shared_task(name="swarm.requeue_stalled_hashing")
def requeue_stalled_hashing() -> int:
    """Queue again the hashing of contents whose run died or whose task the queue lost."""
    return hashing.requeue_stalled_hashing()


@shared_task(name="swarm.place_contents")
def place_contents() -> int:
    """Place contents on engine nodes (replication target, lost and draining nodes)."""
    done = placement.place_contents()
    return len(done.placed) + len(done.dropped)
