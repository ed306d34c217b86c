"""The web seed served two ways: a Django view, and an ASGI fast path in front of Django."""

from __future__ import annotations

import asyncio
import contextlib
import re

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase

from btt_platform.fastpath import ASGIApp, Receive, Scope, Send, secure_enough
from swarm.webseed.serve import Reply, plan, stream_file

# --- the Django view --------------------------------------------------------------------------


async def serve_view(
    request: HttpRequest, content_id: str, token: str, path: str
) -> HttpResponseBase:
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

    The same replies as ``serve_view``, without Django's middleware stack, which costs a
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
