"""Resumable uploads: the tus 1.0.0 core protocol with creation, termination and expiration.

    OPTIONS /api/v1/uploads                 what the server supports (no authentication)
    POST    /api/v1/uploads                 Upload-Length + Upload-Metadata
                                            (``content_id``, ``filename``; base64) -> 201 Location
    HEAD    /api/v1/uploads/<id>            Upload-Offset / Upload-Length: where to resume
    PATCH   /api/v1/uploads/<id>            application/offset+octet-stream at Upload-Offset
    DELETE  /api/v1/uploads/<id>            drop the upload

``X-HTTP-Method-Override`` on a POST stands for PATCH or DELETE, as tus asks.
Authentication: ``Authorization: Bearer <personal token>``, or the browser session together with
Django's CSRF header (``X-CSRFToken``) on POST, PATCH and DELETE. Only creators upload, into
their own content while it is ``uploading``.

PATCH bodies are streamed to disk as they arrive. Django's ASGI handler would read a whole body
into a temporary file before the view runs, losing an interrupted PATCH entirely and storing
bytes before the view could refuse them; ``StreamingUploadBodies`` (in ``btt_site/asgi.py``)
hands the view the raw ASGI ``receive`` for these requests instead. Without it (WSGI, the test
client) the view reads ``request`` in chunks, with Django's buffering. Memory per PATCH stays
under ``WRITE_BUFFER`` either way.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from email.utils import format_datetime

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.urls import Resolver404, resolve, reverse
from django.views.decorators.csrf import csrf_exempt

from accounts.models import User
from accounts.services import authenticate_token
from btt_platform.errors import Refused
from btt_platform.fastpath import Message, Receive, Scope, Send
from swarm import uploads_store
from swarm.contents import TooLarge
from swarm.models import Upload

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,termination,expiration"
OFFSET_OCTET_STREAM = "application/offset+octet-stream"
# Bytes gathered from the connection before one write to disk.
WRITE_BUFFER = 1024 * 1024
# Where StreamingUploadBodies leaves the ASGI receive callable in the request's scope.
BODY_RECEIVE_KEY = "swarm.uploads.receive"
UPLOAD_URL_NAME = "tus-upload"

# Loose on purpose: Django's ASGIHandler annotates scope as dict and messages as Mapping.
AsgiApp = Callable[..., Awaitable[None]]


class ClientGone(Exception):
    """The client disconnected in the middle of a PATCH body."""


# --- responses ---------------------------------------------------------------------------------


def tus_response(status: int, message: str = "", **headers: str) -> HttpResponse:
    response = HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")
    response["Tus-Resumable"] = TUS_VERSION
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def refused(error: Refused) -> HttpResponse:
    return tus_response(error.status, error.message)


def expires_header(upload: Upload) -> dict[str, str]:
    if upload.is_complete:
        return {}
    return {"Upload_Expires": format_datetime(upload.expires_at, usegmt=True)}


def options_response() -> HttpResponse:
    return tus_response(
        204,
        Tus_Version=TUS_VERSION,
        Tus_Extension=TUS_EXTENSIONS,
        Tus_Max_Size=str(settings.UPLOAD_MAX_BYTES),
    )


def version_refused(request: HttpRequest) -> HttpResponse | None:
    if request.headers.get("Tus-Resumable") == TUS_VERSION:
        return None
    return tus_response(
        412,
        f"Tus-Resumable: {TUS_VERSION} is required; this server speaks tus {TUS_VERSION} only.",
        Tus_Version=TUS_VERSION,
    )


# --- authentication ----------------------------------------------------------------------------


def _csrf_ok(request: HttpRequest) -> bool:
    def no_view(request: HttpRequest) -> HttpResponse:
        raise AssertionError("not called")

    return CsrfViewMiddleware(no_view).process_view(request, no_view, (), {}) is None


def authenticate(request: HttpRequest) -> User | HttpResponse:
    """The requesting user: a personal token, or the session with a CSRF token on writes."""
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        user = authenticate_token(token.strip()) if scheme.lower() == "bearer" else None
        if user is None:
            response = tus_response(401, "Invalid or revoked API token.")
            response["WWW-Authenticate"] = 'Bearer realm="api"'
            return response
        return user
    user = getattr(request, "user", None)
    if not isinstance(user, User) or not user.is_active:
        response = tus_response(401, "Log in or send Authorization: Bearer <token>.")
        response["WWW-Authenticate"] = 'Bearer realm="api"'
        return response
    if request.method not in ("GET", "HEAD", "OPTIONS") and not _csrf_ok(request):
        return tus_response(403, "CSRF check failed: send the X-CSRFToken header.")
    return user


# --- views -------------------------------------------------------------------------------------


def _metadata(header: str) -> dict[str, str]:
    """Upload-Metadata: comma-separated ``key base64value`` pairs (value optional)."""
    result: dict[str, str] = {}
    for item in header.split(","):
        key, _, value = item.strip().partition(" ")
        if not key:
            continue
        try:
            result[key] = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise Refused(f"Upload-Metadata {key!r} is not base64 of UTF-8 text.") from None
    return result


# Windows refuses these as a file or folder name whatever follows the first dot ("NUL.tar.gz",
# "com1.txt"), and with trailing dots or spaces ("NUL .txt" is NUL too).
WINDOWS_DEVICE_NAMES = frozenset(
    {"CON", "PRN", "AUX", "NUL"}
    | {f"COM{i}" for i in range(1, 10)}
    | {f"LPT{i}" for i in range(1, 10)}
)


def windows_safe(name: str) -> str:
    """The uploaded name with each part ('/' or '\\' separated) that Windows reads as a
    device renamed (``NUL.tar.gz`` -> ``NUL_.tar.gz``); the torrent's names come from this."""
    parts = re.split(r"([/\\])", name)
    for index, part in enumerate(parts):
        head, dot, rest = part.partition(".")
        if head.rstrip(" .").upper() in WINDOWS_DEVICE_NAMES:
            parts[index] = head.rstrip(" .") + "_" + dot + rest
    return "".join(parts)


def _int_header(request: HttpRequest, name: str) -> int:
    raw = request.headers.get(name, "")
    if not raw.isdigit() or not raw.isascii():
        raise Refused(f"{name} must be a non-negative integer.")
    return int(raw)


@csrf_exempt  # bearer-token requests carry no CSRF token; sessions are checked in authenticate()
def collection(request: HttpRequest) -> HttpResponse:
    if request.method == "OPTIONS":
        return options_response()
    if request.method != "POST":
        return tus_response(405, "Use POST to create an upload.", Allow="OPTIONS, POST")
    if (version := version_refused(request)) is not None:
        return version
    user = authenticate(request)
    if isinstance(user, HttpResponse):
        return user
    try:
        if request.headers.get("Upload-Defer-Length"):
            raise Refused("Upload-Defer-Length is not supported: send Upload-Length.")
        length = _int_header(request, "Upload-Length")
        metadata = _metadata(request.headers.get("Upload-Metadata", ""))
        filename = metadata.get("filename", "").strip()
        content_id = metadata.get("content_id", "")
        if not filename:
            raise Refused("Upload-Metadata must carry the file's name as 'filename'.")
        if not content_id.isdigit():
            raise Refused(
                "Upload-Metadata must carry 'content_id' (create one with POST /api/v1/contents)."
            )
        upload = uploads_store.create_upload(user, int(content_id), windows_safe(filename), length)
    except Refused as error:
        return refused(error)
    location = request.build_absolute_uri(reverse(UPLOAD_URL_NAME, args=[upload.pk]))
    return tus_response(201, Location=location, **expires_header(upload))


def tus_method(method: str, override: str | None) -> str:
    # tus: clients that cannot send PATCH or DELETE send POST with X-HTTP-Method-Override.
    if method == "POST" and override:
        return override.strip().upper()
    return method


@csrf_exempt
async def resource(request: HttpRequest, upload_id: uuid.UUID) -> HttpResponse:
    method = tus_method(request.method or "", request.headers.get("X-HTTP-Method-Override"))
    if method == "OPTIONS":
        return options_response()
    if method not in ("HEAD", "PATCH", "DELETE"):
        return tus_response(405, "", Allow="OPTIONS, HEAD, PATCH, DELETE")
    if (version := version_refused(request)) is not None:
        return version
    user = await sync_to_async(authenticate)(request)
    if isinstance(user, HttpResponse):
        return user
    try:
        if method == "DELETE":
            await sync_to_async(uploads_store.terminate_upload)(user, upload_id)
            return tus_response(204)
        upload = await sync_to_async(uploads_store.open_upload)(user, upload_id)
        if method == "HEAD":
            return tus_response(
                200,
                Upload_Offset=str(upload.offset),
                Upload_Length=str(upload.length),
                Cache_Control="no-store",
                **expires_header(upload),
            )
        return await _patch(request, upload)
    except Refused as error:
        return refused(error)


async def _patch(request: HttpRequest, upload: Upload) -> HttpResponse:
    content_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if content_type != OFFSET_OCTET_STREAM:
        return tus_response(415, f"PATCH bodies must be sent as {OFFSET_OCTET_STREAM}.")
    client_offset = _int_header(request, "Upload-Offset")
    declared = request.headers.get("Content-Length")
    writer = uploads_store.UploadWriter(upload)
    await sync_to_async(writer.begin)(client_offset)
    try:
        if declared is not None and declared.isdigit() and int(declared) > writer.room:
            # Refused before reading a byte of the body.
            raise TooLarge(
                f"Content-Length {declared} at offset {writer.offset} goes past the declared "
                f"Upload-Length {upload.length}; at most {writer.room} more bytes are accepted."
            )
        try:
            await _receive_into(request, writer)
        except ClientGone:
            # Keep what arrived: the client asks HEAD where to resume.
            await sync_to_async(writer.commit)()
            return tus_response(400, "Connection closed before the body ended.")
        except TooLarge as error:
            offset = await sync_to_async(writer.commit)()
            return tus_response(413, error.message, Upload_Offset=str(offset))
        offset = await sync_to_async(writer.commit)()
    finally:
        await asyncio.to_thread(writer.close)
    return tus_response(204, Upload_Offset=str(offset), **expires_header(writer.upload))


async def _receive_into(request: HttpRequest, writer: uploads_store.UploadWriter) -> None:
    buffer = bytearray()
    try:
        async for chunk in _body_chunks(request):
            if len(buffer) + len(chunk) > writer.room:
                # Keep what fits (those bytes are the upload's), refuse the rest.
                buffer += chunk[: writer.room - len(buffer)]
                raise TooLarge(
                    f"More data than the declared Upload-Length {writer.upload.length}: "
                    "the bytes up to that length were kept, the rest refused."
                )
            buffer += chunk
            if len(buffer) >= WRITE_BUFFER:
                await asyncio.to_thread(writer.write, bytes(buffer))
                buffer.clear()
    finally:
        if buffer:
            await asyncio.to_thread(writer.write, bytes(buffer))


async def _body_chunks(request: HttpRequest) -> AsyncIterator[bytes]:
    scope = getattr(request, "scope", None)
    receive: Receive | None = scope.get(BODY_RECEIVE_KEY) if scope else None
    if receive is None:  # WSGI, the test client, or an ASGI stack without the middleware
        while chunk := await asyncio.to_thread(request.read, WRITE_BUFFER):
            yield chunk
        return
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        if body := message.get("body", b""):
            yield body
        if not message.get("more_body", False):
            return


# --- ASGI ----------------------------------------------------------------------------------------


class StreamingUploadBodies:
    """ASGI middleware: passes tus PATCH bodies to the view unread (see the module docstring).

    Django's handler is given an empty body for those requests and the real ``receive`` is put
    in the scope, where ``resource`` reads the body from as it arrives; everything else (the
    middleware stack, authentication, CSRF, database connection handling) stays Django's.
    """

    def __init__(self, app: AsgiApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self._is_patch(scope) and self._is_upload(scope):
            scope = {**scope, BODY_RECEIVE_KEY: receive}
            await self.app(scope, _empty_body(), send)
        else:
            await self.app(scope, receive, send)

    @staticmethod
    def _is_patch(scope: Scope) -> bool:
        override = next(
            (v.decode("latin-1") for k, v in scope["headers"] if k == b"x-http-method-override"),
            None,
        )
        return tus_method(scope["method"], override) == "PATCH"

    @staticmethod
    def _is_upload(scope: Scope) -> bool:
        path: str = scope["path"]
        root: str = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        try:
            return resolve(path).url_name == UPLOAD_URL_NAME
        except Resolver404:
            return False


def _empty_body() -> Receive:
    delivered = False

    async def receive() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": b"", "more_body": False}
        # Django listens for a disconnect while the view runs; the view reads the real
        # receive itself, so this one only waits until Django cancels it.
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    return receive
