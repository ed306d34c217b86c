"""An HTTP proxy in front of the live server that breaks chosen web-seed responses, once each.

A browser test points SITE_URL (so the torrents' web seed) and the page at the proxy. It passes
everything through, WebSockets included, except that a web-seed response covering a chosen byte
of a file can get that byte flipped (a corrupt piece) or be cut there: the bytes before it are
sent, then the connection closes mid-body, as a dropped connection does. It is a real TCP hop,
so the browser's own network stack sees the cut, not a scripted failure.

Each request goes upstream on a connection of its own with ``Connection: close``, so a response
ends where the upstream connection ends and no body has to be parsed.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
from dataclasses import dataclass
from typing import Literal

from tests.fixtures.processes import wait_for

_CONTENT_RANGE = re.compile(rb"\r\ncontent-range:\s*bytes (\d+)-(\d+)/\d+", re.IGNORECASE)
_RANGE = re.compile(r"bytes=(\d+)-(\d+)")
_HOP_BY_HOP = ("connection", "keep-alive")
# The web seed's own refusal (CORS headers included, so the page can read the status).
_FORBIDDEN = (
    b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nAccess-Control-Allow-Origin: *\r\n"
    b"Connection: close\r\n\r\n"
)


@dataclass
class Tamper:
    action: Literal["corrupt", "cut", "refuse", "die"]
    path_contains: str  # picks the file: a part of the (percent-encoded) request path
    offset: int  # the byte of the file where it happens
    done: bool = False


@dataclass(frozen=True)
class Served:
    """A web-seed request or response: which bytes of which file."""

    path: str
    first: int
    last: int


class TamperingProxy:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = 0
        self.tampers: list[Tamper] = []
        self.served: list[Served] = []  # web-seed responses, as their heads came back
        self.requested: list[Served] = []  # web-seed requests, as they came in
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def corrupt_once(self, path_contains: str, offset: int) -> None:
        self.tampers.append(Tamper("corrupt", path_contains, offset))

    def cut_once(self, path_contains: str, offset: int) -> None:
        self.tampers.append(Tamper("cut", path_contains, offset))

    def die_at(self, path_contains: str, offset: int) -> None:
        """The node behind this door dies mid-body: the response covering ``offset`` is cut
        there, and from then on the door refuses every connection, as a killed node's does."""
        self.tampers.append(Tamper("die", path_contains, offset))

    def refuse_once(self, path_contains: str, offset: int) -> None:
        """Answers 403, as for an expired link, to the request whose Range covers ``offset``."""
        self.tampers.append(Tamper("refuse", path_contains, offset))

    def start(self) -> None:
        self._thread.start()
        wait_for(lambda: self.port != 0, timeout=10, what="the proxy to listen")

    def stop(self) -> None:
        """Closes the listener and every connection; again: nothing more to do."""
        if not self._thread.is_alive():
            return
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        handlers: set[asyncio.Task[None]] = set()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            handlers.add(task)
            try:
                await self._handle(reader, writer)
            except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                pass
            finally:
                handlers.discard(task)
                writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        async with server:
            await self._stopping.wait()
            for task in list(handlers):  # idle keep-alive and WebSocket connections
                task.cancel()
            await asyncio.gather(*handlers, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        request_line, *header_lines = head.decode("latin-1").split("\r\n")[:-2]
        target = request_line.split(" ")[1]
        headers = [line.split(":", 1) for line in header_lines]
        by_name = {name.strip().lower(): value.strip() for name, value in headers}
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        try:
            if by_name.get("upgrade", "").lower() == "websocket":
                up_writer.write(head)
                await asyncio.gather(
                    _pipe(reader, up_writer), _pipe(up_reader, writer), return_exceptions=True
                )
                return
            if self._refused(target, by_name.get("range", "")):
                writer.write(_FORBIDDEN)
                await writer.drain()
                return
            kept = [f"{n}:{v}" for n, v in headers if n.strip().lower() not in _HOP_BY_HOP]
            request = "\r\n".join([request_line, *kept, "Connection: close", "", ""])
            up_writer.write(request.encode("latin-1"))
            length = int(by_name.get("content-length", "0"))
            if length:
                up_writer.write(await reader.readexactly(length))
            await up_writer.drain()
            await self._relay_response(target, up_reader, writer)
        finally:
            up_writer.close()

    async def _relay_response(
        self, target: str, up_reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        head = await up_reader.readuntil(b"\r\n\r\n")
        writer.write(head)
        offset: int | None = None
        if "/webseed/" in target:
            match = _CONTENT_RANGE.search(head)
            if match is not None:
                offset = int(match[1])
                self.served.append(Served(target, offset, int(match[2])))
        while chunk := await up_reader.read(64 * 1024):
            cut = None
            if offset is not None:
                chunk, cut = self._tamper(target, offset, bytearray(chunk))
                offset += len(chunk)
            writer.write(chunk)
            await writer.drain()
            if cut is not None:
                # Closed with the body short of its Content-Length: every byte before the cut
                # reaches the browser, whose fetch then fails mid-body.
                writer.close()
                await writer.wait_closed()
                if cut == "die":
                    assert self._stopping is not None
                    self._stopping.set()
                return

    def _refused(self, target: str, range_header: str) -> bool:
        match = _RANGE.fullmatch(range_header)
        if match is None or "/webseed/" not in target:
            return False
        self.requested.append(Served(target, int(match[1]), int(match[2])))
        for tamper in self.tampers:
            if tamper.action != "refuse" or tamper.done or tamper.path_contains not in target:
                continue
            if int(match[1]) <= tamper.offset <= int(match[2]):
                tamper.done = True
                return True
        return False

    def _tamper(self, target: str, offset: int, chunk: bytearray) -> tuple[bytes, str | None]:
        """The chunk as sent, and the action that cut it there, if one did."""
        for tamper in self.tampers:
            if tamper.action == "refuse" or tamper.done or tamper.path_contains not in target:
                continue
            if not offset <= tamper.offset < offset + len(chunk):
                continue
            tamper.done = True
            at = tamper.offset - offset
            if tamper.action == "corrupt":
                chunk[at] ^= 0xFF
            else:
                return bytes(chunk[:at]), tamper.action
        return bytes(chunk), None


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while data := await source.read(64 * 1024):
            sink.write(data)
            await sink.drain()
    sink.close()
