"""The web seed's replies: what to answer a request, and the file's bytes streamed out.

Status codes are chosen for BitTorrent clients, not only for browsers: every ``Range`` gets a 206
with exactly the range asked for (libtorrent disconnects otherwise; Transmission accepts only 206),
and nothing is ever refused with 429/503/404 to shed load (libtorrent then writes the file off on
this seed for the torrent's life): a busy seed throttles instead.

Two ways out for the bytes, after the same authorisation:
- development (``WEBSEED_X_ACCEL`` false): the file is streamed with an async iterator that
  reads chunks off the event loop; a sync iterator would be buffered whole under ASGI.
- production (``WEBSEED_X_ACCEL`` true): an empty response with ``X-Accel-Redirect`` to nginx's
  internal location (``deploy/nginx.conf``), which sends the file with sendfile and does Range,
  HEAD and conditional requests itself.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import os
import time
from collections.abc import AsyncGenerator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import redis
from django.conf import settings
from django.utils.http import http_date, parse_http_date_safe

from btt_platform.fastpath import in_database
from swarm.models import Content
from swarm.tracker.peers import redis_client
from swarm.webseed.ranges import Part, RangeNotSatisfiable, multipart_byteranges, parse_ranges
from swarm.webseed.tokens import authorise_cached

logger = logging.getLogger(__name__)

# Reads of 1 MiB: libtorrent asks for at least 1 MiB per request (up to 16 MiB when it merges
# them), and fewer, larger reads keep the per-chunk thread hand-off cheap next to the copy.
CHUNK_SIZE = 1024 * 1024

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "Content-Range, Content-Length, Accept-Ranges, ETag",
}
PREFLIGHT_HEADERS = {
    **CORS_HEADERS,
    "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
    # WebTorrent sends Cache-Control: no-store, which makes even a Range GET preflighted.
    "Access-Control-Allow-Headers": "Range, Cache-Control, User-Agent",
    "Access-Control-Max-Age": "86400",
}
# On every file served: no sniffing a type, and no scripts should a browser render one anyway.
CONTENT_SAFETY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "sandbox; default-src 'none'",
}


# --- responses --------------------------------------------------------------------------------


@dataclass
class Reply:
    """A response, independent of the server interface that sends it."""

    status: int
    headers: dict[str, str]
    parts: list[Part] = field(default_factory=list)  # the body; empty for HEAD and refusals
    path: Path | None = None
    rate_limit: int = 0
    content_id: int | None = None  # whose bytes these are, for the served-bytes counter


def _etag_matches(header: str, etag: str) -> bool:
    """If-None-Match: weak comparison."""
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == etag:
            return True
    return False


def _refusal(status: int, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, {**CORS_HEADERS, "Content-Length": "0", **(headers or {})})


async def plan(
    method: str, content_id: str, token: str, path: str, headers: Mapping[str, str]
) -> Reply:
    """The reply to a web-seed request; ``headers`` are the request's, by lower-case name."""
    if method == "OPTIONS":
        # A preflight carries no token worth checking; the GET that follows is authorised.
        return Reply(204, dict(PREFLIGHT_HEADERS))
    if method not in ("GET", "HEAD"):
        return _refusal(405, {"Allow": "GET, HEAD, OPTIONS"})

    target = await authorise_cached(content_id, token, path)
    if isinstance(target, int):
        return _refusal(target)
    content_type = target.content_type
    if settings.WEBSEED_X_ACCEL:
        accel = {
            "Content-Type": content_type,
            "Content-Length": "0",
            "X-Accel-Redirect": target.accel_location,
        }
        if target.rate_limit > 0:
            accel["X-Accel-Limit-Rate"] = str(target.rate_limit)
        return Reply(200, accel)

    try:
        stat = await asyncio.to_thread(os.stat, target.disk_path)
    except OSError:
        # The engine marks such content unhealthy. Not 404: libtorrent would never ask this
        # seed for the file again, even once it is restored; after a 500 it retries later.
        logger.warning("web seed: %s is missing on disk", target.disk_path)
        return _refusal(500)
    size = stat.st_size
    # Strong: the same infohash, path, size and mtime are the same bytes.
    identity = f"{target.infohash}:{target.content_id}:{target.relative_path}"
    version = f"{identity}:{size}:{stat.st_mtime_ns}".encode()
    etag = f'"{hashlib.blake2b(version, digest_size=12).hexdigest()}"'
    last_modified = http_date(int(stat.st_mtime))
    reply_headers = {
        **CORS_HEADERS,
        **CONTENT_SAFETY_HEADERS,
        "Accept-Ranges": "bytes",
        "ETag": etag,
        "Last-Modified": last_modified,
        # no-transform: a proxy must not compress (no Content-Encoding on ranges, ever).
        "Cache-Control": ("private" if target.private else "public, max-age=3600")
        + ", no-transform",
    }

    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:
        if _etag_matches(if_none_match, etag):
            return Reply(304, reply_headers)
    else:
        since = parse_http_date_safe(headers.get("if-modified-since", ""))
        if since is not None and int(stat.st_mtime) <= since:
            return Reply(304, reply_headers)

    range_header = headers.get("range")
    if_range = headers.get("if-range")
    if range_header is not None and if_range is not None:
        # The ranges apply only to the representation the client has (strong comparison);
        # otherwise it gets the whole new one.
        if_range = if_range.strip()
        if if_range.startswith(('"', "W/")):
            still_same = if_range == etag
        else:
            still_same = if_range == last_modified
        if not still_same:
            range_header = None

    reply = Reply(
        200,
        reply_headers,
        path=target.disk_path,
        rate_limit=target.rate_limit,
        content_id=target.content_id,
    )
    reply.parts = [(0, size - 1)] if size else []
    length = size
    if range_header is not None:
        try:
            ranges = parse_ranges(range_header, size)
        except RangeNotSatisfiable:
            reply_headers["Content-Range"] = f"bytes */{size}"
            return _refusal(416, reply_headers)
        reply.status = 206
        if len(ranges) == 1:
            first, last = ranges[0]
            reply_headers["Content-Range"] = f"bytes {first}-{last}/{size}"
            reply.parts, length = [(first, last)], last - first + 1
        else:
            # Several ranges: all of them, as RFC 9110 multipart/byteranges. Serving only the
            # first would hand a client other bytes than it asked for.
            content_type, reply.parts, length = multipart_byteranges(ranges, size, content_type)
    reply_headers["Content-Type"] = content_type
    reply_headers["Content-Length"] = str(length)
    if method == "HEAD":
        reply.parts = []
    return reply


# --- the body ---------------------------------------------------------------------------------


class _Pacer:
    """Holds a stream to ``rate`` bytes per second on average, by sleeping, never by refusing."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self.started = time.monotonic()
        self.sent = 0

    async def account(self, sent: int) -> None:
        if self.rate <= 0:
            return
        self.sent += sent
        delay = self.started + self.sent / self.rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)


# A paced response can last minutes: one in flight when its content is taken down ends within
# this long instead of running to its end.
RECHECK_SECONDS = 2.0


class Withdrawn(OSError):
    """The content was taken down while its bytes were being sent."""


def _is_removed(content_id: int) -> bool:
    return Content.objects.filter(pk=content_id, state=Content.State.REMOVED).exists()


async def stream_file(
    path: Path, parts: Sequence[Part], rate: int, content_id: int | None = None
) -> AsyncGenerator[bytes, None]:
    """The response body, read chunk by chunk off the event loop.

    The file is opened on the first read, so a response that is never iterated holds no
    descriptor. Each send waits for the socket to drain (uvicorn's flow control), so a slow
    client holds a chunk or two in memory, never the file. The file bytes handed out are added
    to ``content_id``'s served-bytes counter at the end, however the response ends.
    """
    chunk_size = CHUNK_SIZE if rate <= 0 else max(16 * 1024, min(CHUNK_SIZE, rate // 8))
    pacer = _Pacer(rate)
    served = 0
    next_check = time.monotonic() + RECHECK_SECONDS
    fd = await asyncio.to_thread(os.open, path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        for part in parts:
            if isinstance(part, bytes):
                yield part
                continue
            offset, last = part
            while offset <= last:
                data = await asyncio.to_thread(
                    os.pread, fd, min(chunk_size, last - offset + 1), offset
                )
                if not data:
                    # The file shrank under us: end the response short rather than send other
                    # bytes than the Content-Length promised; the server drops the connection.
                    raise OSError(f"{path} ended at {offset} while being served")
                if content_id is not None and time.monotonic() >= next_check:
                    next_check = time.monotonic() + RECHECK_SECONDS
                    if await in_database(_is_removed, content_id):
                        # Cut short like a file that shrank: the connection is dropped, the
                        # client's next request gets 410.
                        raise Withdrawn(f"content {content_id} was taken down")
                offset += len(data)
                yield data
                served += len(data)
                await pacer.account(len(data))
    finally:
        os.close(fd)
        if content_id is not None and served:
            # A client that hangs up cancels this stream, often right after its last byte:
            # the count goes on in its own task (held in _counting until done) all the same.
            task = asyncio.ensure_future(count_served(content_id, served))
            _counting.add(task)
            task.add_done_callback(_counting.discard)
            await asyncio.shield(task)


# --- bytes served, for the creator's swarm panel ------------------------------------------------

# All-time bytes of a content's files sent by this web seed, one INCRBY per response. Behind
# nginx (X-Accel-Redirect) the bytes never pass through here and are not counted.
SERVED_KEY = "webseed:served:{}"
_counting: set[asyncio.Future[None]] = set()


def served_key(content_id: int) -> str:
    return SERVED_KEY.format(content_id)


async def count_served(content_id: int, count: int) -> None:
    """Add ``count`` to the content's counter; a counter never fails a response."""
    try:
        # The tracker's Redis pool for this event loop: one pool per loop, closed with it.
        client = await redis_client()
        await client.incrby(served_key(content_id), count)
    except Exception:
        logger.warning("web seed: could not count %s bytes of content %s", count, content_id)


@functools.cache
def _sync_redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)


def bytes_served(content_ids: Iterable[int]) -> dict[int, int]:
    """The web seed's all-time bytes for each content (0 for none counted yet)."""
    ids = list(content_ids)
    if not ids:
        return {}
    values = _sync_redis(settings.REDIS_URL).mget([served_key(pk) for pk in ids])
    return {pk: int(value or 0) for pk, value in zip(ids, values, strict=True)}
