"""Transfer accounting: the bytes peers report, added up per user and content.

The last counters a peer reported are kept per (passkey, infohash, peer id); the announce
script (``peers.lua``) turns each report into non-negative deltas (a report below the last one
is a client restart, whose counters begin at 0 again) and adds them to a pending hash. The
pending deltas are moved into ``TransferTotal`` in batches (``flush_transfer_totals``), so the
database sees one upsert statement every few seconds instead of a write per announce.
"""

from __future__ import annotations

import logging
import secrets
import time
from typing import Final, cast

from django.db import connection, transaction
from django.utils import timezone

from btt_platform.fastpath import in_database
from swarm.models import Content, Passkey, TransferTotal
from swarm.tracker.peers import PENDING_KEY, redis_client
from swarm.tracker.protocol import MAX_COUNTER

logger = logging.getLogger(__name__)

# How often a web process moves pending transfer deltas from Redis to the database.
TRANSFER_FLUSH_SECONDS = 2.0
# When (time.monotonic()) this process's announces next flush: ``maybe_flush_transfer_totals``
# moves it on; setting it holds those flushes back or makes the next announce flush.
next_flush = 0.0

_FLUSHING_KEY: Final = "trk:pending:flushing"
_FLUSH_LOCK_KEY: Final = "trk:pending:lock"
_RELEASE_LUA: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


async def flush_transfer_totals() -> int:
    """Add the pending upload/download deltas to ``TransferTotal``; returns how many
    (passkey, torrent) pairs with bytes it found pending.

    One process flushes at a time (a Redis lock). The batch is renamed aside before it is
    written and deleted after the commit, so a failed write is retried by the next flush; only
    a crash between the commit and the delete would count that batch twice.
    """
    client = await redis_client()
    token = secrets.token_hex(8)
    if not await client.set(_FLUSH_LOCK_KEY, token, nx=True, ex=60):
        return 0  # another process is flushing
    try:
        if not await client.exists(_FLUSHING_KEY):
            if not await client.exists(PENDING_KEY):
                return 0
            await client.rename(PENDING_KEY, _FLUSHING_KEY)
        # The client returns bytes (no decode_responses), whatever its annotation says.
        batch = cast(dict[bytes, bytes], await client.hgetall(_FLUSHING_KEY))
        written = await in_database(_add_transfer_totals, batch)
        await client.delete(_FLUSHING_KEY)
        return written
    finally:
        # Only if still ours: a flush slower than the lock's expiry must not free another's.
        await client.register_script(_RELEASE_LUA)(keys=[_FLUSH_LOCK_KEY], args=[token])


def _add_transfer_totals(batch: dict[bytes, bytes]) -> int:
    by_key: dict[tuple[str, str], list[int]] = {}
    for field, value in batch.items():
        try:
            passkey, infohash, direction = field.decode("ascii").split(":")
        except ValueError:
            logger.error("dropping a malformed pending transfer field %r", field)
            continue
        amounts = by_key.setdefault((passkey, infohash), [0, 0])
        amounts[0 if direction == "u" else 1] += max(int(value), 0)
    rows = [
        (min(uploaded, MAX_COUNTER), min(downloaded, MAX_COUNTER), passkey, infohash)
        for (passkey, infohash), (uploaded, downloaded) in by_key.items()
        if uploaded or downloaded
    ]
    if not rows:
        return 0
    # One statement, run for each (passkey, infohash): it finds the user and the content by
    # their indexes and adds to their row, so no lookup of thousands of passkeys and contents
    # runs in Python first (at a few thousand announces a second that cost as much again as the
    # upserts). Deltas of a passkey or content deleted since find no row and are dropped; a
    # revoked passkey still names its user, whose bytes they were. Two passkeys of one user
    # (rotated in between) are two statements, each adding to the same row.
    quote = connection.ops.quote_name
    table = quote(TransferTotal._meta.db_table)
    passkeys, contents = quote(Passkey._meta.db_table), quote(Content._meta.db_table)
    key, user = quote(Passkey._meta.get_field("key").column), quote(Passkey.user.field.column)
    infohash = quote(Content._meta.get_field("infohash").column)
    content_id = quote(Content._meta.pk.column)
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(
            # Only names and constants are formatted in; the values are parameters.
            f"INSERT INTO {table} (user_id, content_id, uploaded, downloaded, updated_at) "  # noqa: S608
            f"SELECT p.{user}, c.{content_id}, %s, %s, %s FROM {passkeys} p, {contents} c "
            f"WHERE p.{key} = %s AND p.{user} IS NOT NULL AND c.{infohash} = %s "
            "ON CONFLICT (user_id, content_id) DO UPDATE SET "
            f"uploaded = {_saturating_add(table, 'uploaded')}, "
            f"downloaded = {_saturating_add(table, 'downloaded')}, "
            "updated_at = excluded.updated_at",
            [(up, down, now, passkey, infohash) for up, down, passkey, infohash in rows],
        )
    return len(rows)


def _saturating_add(table: str, column: str) -> str:
    """SQL for ``column + excluded.column`` capped at the column's maximum, computed without
    overflowing it (both databases: no LEAST in SQLite, no two-argument MIN in PostgreSQL).

    Counters come from clients; a forged huge one must not make the whole batch fail (and
    stay pending forever) with "bigint out of range", nor turn SQLite's integer into a float.
    """
    return (
        f"CASE WHEN {table}.{column} > {MAX_COUNTER} - excluded.{column} THEN {MAX_COUNTER} "
        f"ELSE {table}.{column} + excluded.{column} END"
    )


async def maybe_flush_transfer_totals() -> None:
    """Flush if TRANSFER_FLUSH_SECONDS passed since this process's last try; never raises, so
    an announce is answered whatever the database says."""
    global next_flush
    now = time.monotonic()
    if now < next_flush:
        return
    next_flush = now + TRANSFER_FLUSH_SECONDS
    try:
        await flush_transfer_totals()
    except Exception:
        logger.exception("flushing transfer totals failed; the deltas stay pending")
