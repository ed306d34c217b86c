"""The HTTP web seed (BEP 19): content files over GET/HEAD with byte ranges.

Every torrent lists ``<SITE_URL>/webseed/<content id>/<token>/`` in its ``url-list``; clients
append ``<name>`` (single file) or ``<name>/<file path>`` (bundle), percent-encoded. The token
sits in the path because clients drop query strings and carry no cookies (FIELD-NOTES "Web
seeds"): free content uses the literal ``open``, paid content a signed per-user token.

Status codes are chosen for BitTorrent clients, not only for browsers: every ``Range`` gets a 206
with exactly the range asked for (libtorrent disconnects otherwise; Transmission accepts only 206),
and nothing is ever refused with 429/503/404 to shed load (libtorrent then writes the file off on
this seed for the torrent's life): a busy seed throttles instead.

Two ways out for the bytes, after the same authorisation:
- development (``WEBSEED_X_ACCEL`` false): the view streams the file with an async iterator that
  reads chunks off the event loop; a sync iterator would be buffered whole under ASGI.
- production (``WEBSEED_X_ACCEL`` true): an empty response with ``X-Accel-Redirect`` to nginx's
  internal location (``deploy/nginx.conf``), which sends the file with sendfile and does Range,
  HEAD and conditional requests itself.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import functools
import hashlib
import itertools
import logging
import mimetypes
import os
import re
import secrets
import struct
import time
from collections.abc import AsyncGenerator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import redis
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.http import http_date, parse_http_date_safe

from accounts.models import User
from btt_platform.fastpath import ASGIApp, Receive, Scope, Send, secure_enough
from ledger import access
from swarm import tracker
from swarm.models import Content, ContentFile, Passkey
from swarm.services import active_passkey

logger = logging.getLogger(__name__)

OPEN_TOKEN = "open"  # noqa: S105 - the token of free content: nothing to sign, anyone may fetch
# Reads of 1 MiB: libtorrent asks for at least 1 MiB per request (FIELD-NOTES), and fewer,
# larger reads keep the per-chunk thread hand-off cheap next to the copy.
CHUNK_SIZE = 1024 * 1024
# No client of ours sends many ranges; a long list is an amplification attempt.
MAX_RANGES = 32

_TOKEN_SALT = "swarm.webseed.token"  # noqa: S105 - a key salt, not a secret
_TOKEN_PAYLOAD = struct.Struct(">QI")  # user id, expiry (unix seconds)
_TOKEN_MAC_BYTES = 16  # HMAC-SHA256 truncated to 128 bits
_TOKEN_BYTES = _TOKEN_PAYLOAD.size + _TOKEN_MAC_BYTES  # 28 bytes: 38 base64url characters
_RANGE_SPEC = re.compile(r"(\d*)-(\d*)", re.ASCII)

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


# --- layout -----------------------------------------------------------------------------------


def torrent_paths(content: Content) -> dict[str, ContentFile]:
    """Each file of ``content`` by its path inside the torrent.

    That path is what a client appends to the url-list entry and also where the file lies below
    the save path ``CONTENT_ROOT/<content id>/``: ``<name>`` for a single-file torrent,
    ``<name>/<file path>`` for a bundle. Like ``Content.is_bundle``, a content with exactly one
    file is a single-file torrent, whatever that file's own path says.
    """
    files = list(content.files.all())
    if len(files) == 1:
        return {content.name: files[0]}
    return {f"{content.name}/{file.path}": file for file in files}


def content_dir(content_id: int) -> Path:
    """The torrent's save path."""
    return Path(settings.CONTENT_ROOT) / str(content_id)


# --- tokens -----------------------------------------------------------------------------------


def _mac(content_id: int, user_id: int, expires: int, passkey: str) -> bytes:
    # The passkey is part of the key, so rotating it (swarm.services.rotate_passkey) revokes every
    # token the user holds without a table of tokens.
    message = f"{content_id}:{user_id}:{expires}"
    digest = salted_hmac(
        _TOKEN_SALT, message, secret=f"{settings.SECRET_KEY}:{passkey}", algorithm="sha256"
    ).digest()
    return digest[:_TOKEN_MAC_BYTES]


def issue_token(user: User, content: Content, *, now: float | None = None) -> str:
    """A signed token letting ``user`` fetch ``content`` for WEBSEED_TOKEN_TTL_SECONDS."""
    expires = int(now if now is not None else time.time()) + settings.WEBSEED_TOKEN_TTL_SECONDS
    passkey = active_passkey(user).key
    raw = _TOKEN_PAYLOAD.pack(user.pk, expires) + _mac(content.pk, user.pk, expires, passkey)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def token_user(token: str, content: Content, *, now: float | None = None) -> User | None:
    """The user a token was issued to for ``content``; None when forged, expired or revoked."""
    if len(token) > 64:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    if len(raw) != _TOKEN_BYTES:
        return None
    user_id, expires = _TOKEN_PAYLOAD.unpack(raw[: _TOKEN_PAYLOAD.size])
    if user_id >= 2**63:  # no such id; the databases' integers are signed 64-bit
        return None
    if expires <= (now if now is not None else time.time()):
        return None
    passkey = (
        Passkey.objects.filter(user_id=user_id, revoked_at__isnull=True)
        .values_list("key", flat=True)
        .first()
    )
    if passkey is None:
        return None
    expected = _mac(content.pk, user_id, expires, passkey)
    if not constant_time_compare(raw[_TOKEN_PAYLOAD.size :], expected):
        return None
    return User.objects.filter(pk=user_id).first()


def webseed_url_for(user: User | None, content: Content) -> str:
    """The url-list entry for ``user`` (None: anonymous), ending in '/'.

    Free content gets the shared ``open`` URL, so everyone's torrent lists the same web seed;
    paid content a URL signed for this user and content.
    """
    if content.is_private:
        if user is None:
            raise ValueError("paid content has no anonymous web-seed URL")
        token = issue_token(user, content)
    else:
        token = OPEN_TOKEN
    return f"{settings.SITE_URL}/webseed/{content.pk}/{token}/"


def rate_limit_for(user: User | None, content: Content) -> int:
    """Bytes per second for one response, 0 for unlimited.

    One platform-wide figure for now; the bandwidth market will lift it per user.
    """
    return int(settings.WEBSEED_RATE_LIMIT)


# --- authorisation ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A file a request may fetch."""

    content_id: int
    relative_path: str  # inside the torrent, below the save path
    infohash: str
    private: bool
    rate_limit: int
    content_type: str
    accel_location: str  # X-Accel-Redirect, for production mode

    @property
    def disk_path(self) -> Path:
        return content_dir(self.content_id) / self.relative_path


def authorise(content_id: str, token: str, path: str) -> Target | int:
    """The file a request names, or the status to refuse it with (403, 404 or 410)."""
    if len(content_id) > 18:  # beyond a 64-bit id: it never existed
        return 404
    content = Content.objects.select_related("creator").filter(pk=int(content_id)).first()
    if content is None:
        return 404
    if content.state == Content.State.REMOVED:
        return 410
    if token == OPEN_TOKEN:
        user = None
        if content.is_private:
            return 403
    else:
        user = token_user(token, content)
        if user is None:
            return 403
    if not access.may_fetch(user, content):
        return 403
    # Looked up among the content's own files, never joined onto a filesystem path as sent, so
    # no '..' or absolute path can reach outside the save path. Checked after authorisation so
    # that a stranger cannot probe a paid bundle's file names.
    if path not in torrent_paths(content):
        return 404
    return Target(
        content_id=content.pk,
        relative_path=path,
        infohash=content.infohash or "",
        private=content.is_private,
        rate_limit=rate_limit_for(user, content),
        content_type=safe_content_type(path),
        # nginx decodes the URI before mapping it onto the file system.
        accel_location=quote(f"{settings.WEBSEED_X_ACCEL_PREFIX}{content.pk}/{path}"),
    )


# --- ranges -----------------------------------------------------------------------------------


class RangeNotSatisfiable(Exception):
    """A Range header that is malformed, asks for nothing inside the file, or asks too much."""


def parse_ranges(header: str, size: int) -> list[tuple[int, int]]:
    """The byte ranges of a ``Range`` header as inclusive (first, last) pairs, in request order.

    Unsatisfiable parts are dropped as RFC 9110 says; if none is left, or the header is
    malformed, RangeNotSatisfiable. Malformed headers get 416 rather than the whole file: a web
    seed client that receives other bytes than it asked for drops the connection.
    """
    unit, equals, specs = header.partition("=")
    if not equals or unit.strip().lower() != "bytes":
        raise RangeNotSatisfiable(header)
    parts = [part.strip() for part in specs.split(",")]
    parts = [part for part in parts if part]  # empty list elements are allowed
    if not parts or len(parts) > MAX_RANGES:
        raise RangeNotSatisfiable(header)
    ranges = []
    for part in parts:
        match = _RANGE_SPEC.fullmatch(part)
        if match is None or part == "-":
            raise RangeNotSatisfiable(header)
        first_text, last_text = match.groups()
        if not first_text:  # suffix: the last n bytes
            length = int(last_text)
            if length > 0 and size > 0:
                ranges.append((max(0, size - length), size - 1))
            continue
        first = int(first_text)
        last = int(last_text) if last_text else size - 1
        if last < first:
            raise RangeNotSatisfiable(header)
        if first < size:
            ranges.append((first, min(last, size - 1)))
    if not ranges:
        raise RangeNotSatisfiable(header)
    ordered = sorted(ranges)
    if any(later[0] <= earlier[1] for earlier, later in itertools.pairwise(ordered)):
        # Overlapping ranges only serve to multiply the bytes sent (RFC 9110 §14.2 allows refusing).
        raise RangeNotSatisfiable(header)
    return ranges


# --- authorisation cache --------------------------------------------------------------------

# A web-seed client sends a request per MiB or so: without a cache every one of them would cost
# the same few queries. Decisions (grants and refusals) are kept WEBSEED_AUTH_CACHE_SECONDS, so a
# revocation, takedown or expiry reaches the web seed within that window. Per process; only
# touched from the event loop.
_auth_cache: dict[tuple[str, str, str], tuple[float, Target | int]] = {}
_AUTH_CACHE_MAX_ENTRIES = 10_000


def auth_cache_seconds() -> float:
    return float(getattr(settings, "WEBSEED_AUTH_CACHE_SECONDS", 1.0))


def clear_auth_cache() -> None:
    _auth_cache.clear()


def _authorise_fresh(content_id: str, token: str, path: str) -> Target | int:
    # Outside Django's request cycle (the ASGI fast path), so do what its request_started and
    # request_finished signals do for the connection of this thread.
    close_old_connections()
    try:
        return authorise(content_id, token, path)
    finally:
        close_old_connections()


async def authorise_cached(content_id: str, token: str, path: str) -> Target | int:
    key = (content_id, token, path)
    cached = _auth_cache.get(key)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    # Requests that miss together share one lookup: when a popular file's entry expires, its
    # hundreds of clients cost one query, not one each.
    task = _in_flight.get(key)
    if task is None or task.get_loop() is not asyncio.get_running_loop():
        task = asyncio.create_task(_authorise_and_remember(key))
        _in_flight[key] = task
    # Shielded: a client that goes away must not cancel the lookup the others wait on.
    return await asyncio.shield(task)


_in_flight: dict[tuple[str, str, str], asyncio.Task[Target | int]] = {}


async def _authorise_and_remember(key: tuple[str, str, str]) -> Target | int:
    try:
        result = await sync_to_async(_authorise_fresh, thread_sensitive=False)(*key)
    finally:
        if _in_flight.get(key) is asyncio.current_task():
            del _in_flight[key]
    ttl = auth_cache_seconds()
    if ttl > 0:
        now = time.monotonic()
        if len(_auth_cache) >= _AUTH_CACHE_MAX_ENTRIES:
            for stale in [k for k, (until, _) in _auth_cache.items() if until <= now]:
                del _auth_cache[stale]
            if len(_auth_cache) >= _AUTH_CACHE_MAX_ENTRIES:
                _auth_cache.clear()
        _auth_cache[key] = (now + ttl, result)
    return result


# --- responses --------------------------------------------------------------------------------

# A part of a response body: bytes as they are, or an inclusive range of the file.
Part = bytes | tuple[int, int]


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


def safe_content_type(relative_path: str) -> str:
    """The type to serve a file as, from its name: media types, or opaque bytes.

    Creators upload anything; an .html or .svg served as such from the site's origin would run
    scripts there. Browsers play, show or download everything else fine as octet-stream.
    """
    guessed = mimetypes.guess_type(relative_path)[0] or ""
    if guessed.startswith(("video/", "audio/")) or guessed in SAFE_IMAGE_TYPES:
        return guessed
    return "application/octet-stream"


SAFE_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "image/avif"})


def _refusal(status: int, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, {**CORS_HEADERS, "Content-Length": "0", **(headers or {})})


def _multipart(
    ranges: list[tuple[int, int]], size: int, content_type: str
) -> tuple[str, list[Part], int]:
    boundary = secrets.token_hex(12)
    parts: list[Part] = []
    length = 0
    for first, last in ranges:
        head = (
            f"\r\n--{boundary}\r\nContent-Type: {content_type}\r\n"
            f"Content-Range: bytes {first}-{last}/{size}\r\n\r\n"
        ).encode("ascii")
        parts += [head, (first, last)]
        length += len(head) + last - first + 1
    tail = f"\r\n--{boundary}--\r\n".encode("ascii")
    parts.append(tail)
    return f"multipart/byteranges; boundary={boundary}", parts, length + len(tail)


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
            content_type, reply.parts, length = _multipart(ranges, size, content_type)
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
    close_old_connections()
    try:
        return Content.objects.filter(pk=content_id, state=Content.State.REMOVED).exists()
    finally:
        close_old_connections()


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
                    if await sync_to_async(_is_removed, thread_sensitive=False)(content_id):
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
        client = await tracker.redis_client()
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


# --- the Django view --------------------------------------------------------------------------


async def serve(request: HttpRequest, content_id: str, token: str, path: str) -> HttpResponseBase:
    """``/webseed/<content id>/<token>/<path>``: one file of a content, whole or in ranges.

    Under ASGI the requests reach ``WebSeedRouter`` first and never come here; this view serves
    the same replies wherever Django's handler is in front (the test client, WSGI).
    """
    headers = {name.lower(): value for name, value in request.headers.items()}
    reply = await plan(request.method or "GET", content_id, token, path, headers)
    response: HttpResponseBase
    if reply.parts and reply.path is not None:
        response = StreamingHttpResponse(
            stream_file(reply.path, reply.parts, reply.rate_limit, reply.content_id),
            status=reply.status,
        )
    else:
        response = HttpResponse(b"", status=reply.status)
    # Django sets a text/html Content-Type unless told otherwise.
    response["Content-Type"] = reply.headers.get("Content-Type", "application/octet-stream")
    for name, value in reply.headers.items():
        response[name] = value
    return response


# --- the ASGI fast path -----------------------------------------------------------------------

_ROUTE = re.compile(r"/webseed/(?P<content_id>\d+)/(?P<token>[A-Za-z0-9_-]+)/(?P<path>.+)")


class WebSeedRouter:
    """ASGI middleware: web-seed requests straight to the web seed, the rest to ``app``.

    The same replies as the ``serve`` view, without Django's middleware stack, which costs a
    few milliseconds per request (sync-only middleware runs in a thread): a web-seed client sends
    a request per MiB or so, and in production every one of them passes through here before
    nginx sends the bytes. Only the web seed's own headers are set on these replies; none of the
    page middleware (sessions, CSRF, CSP for pages) applies to them.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = _ROUTE.fullmatch(scope["path"]) if scope["type"] == "http" else None
        if match is None or not secure_enough(scope):
            await self.app(scope, receive, send)
            return
        headers: dict[str, str] = {}
        for raw_name, raw_value in scope["headers"]:
            name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        reply = await plan(scope["method"], **match.groupdict(), headers=headers)
        await send(
            {
                "type": "http.response.start",
                "status": reply.status,
                "headers": [
                    (n.encode("latin-1"), v.encode("latin-1")) for n, v in reply.headers.items()
                ],
            }
        )
        if not reply.parts or reply.path is None:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        # uvicorn drops what is sent after a client goes away without telling the sender, so a
        # watcher on receive() stops the stream instead of reading the rest of the file for no one.
        streaming = asyncio.create_task(_send_body(reply, send))
        watching = asyncio.create_task(_until_disconnected(receive))
        try:
            await asyncio.wait((streaming, watching), return_when=asyncio.FIRST_COMPLETED)
        finally:
            watching.cancel()
            if not streaming.done():
                streaming.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await streaming


async def _send_body(reply: Reply, send: Send) -> None:
    assert reply.path is not None
    body_parts = stream_file(reply.path, reply.parts, reply.rate_limit, reply.content_id)
    async with contextlib.aclosing(body_parts) as body:
        async for chunk in body:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _until_disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
