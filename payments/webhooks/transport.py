"""Posting a delivery: to the address checked at this attempt, no proxies, no redirects, the body
never read; each read, write and connect bounded, and the whole attempt too."""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from django.conf import settings

from payments.webhooks.targets import resolve_target


def request_timeout() -> float:
    """``PAYMENTS_WEBHOOK_TIMEOUT_SECONDS`` (default 10): connect, write and each read."""
    return float(settings.PAYMENTS_WEBHOOK_TIMEOUT_SECONDS)


def connect_timeout() -> float:
    """``PAYMENTS_WEBHOOK_CONNECT_TIMEOUT_SECONDS`` (default 3), at most the request timeout."""
    return min(float(settings.PAYMENTS_WEBHOOK_CONNECT_TIMEOUT_SECONDS), request_timeout())


def total_timeout() -> float:
    """The most one attempt may take in all: twice ``PAYMENTS_WEBHOOK_TIMEOUT_SECONDS``."""
    return request_timeout() * 2


class _Deadline:
    """Cuts the connections of one attempt once ``seconds`` have passed: the read timeout holds
    for each read, so an endpoint trickling a byte at a time would otherwise hold on for ever."""

    def __init__(self, seconds: float) -> None:
        self.sockets: list[socket.socket] = []
        self.passed = False
        self.timer = threading.Timer(seconds, self._cut)
        self.timer.daemon = True

    def trace(self, event: str, info: dict[str, Any]) -> None:
        if event == "connection.connect_tcp.complete" and info.get("return_value") is not None:
            connected = info["return_value"].get_extra_info("socket")
            if isinstance(connected, socket.socket):
                self.sockets.append(connected)

    def _cut(self) -> None:
        self.passed = True
        for connected in self.sockets:
            with contextlib.suppress(OSError):
                connected.shutdown(socket.SHUT_RDWR)  # wakes a read blocked on it

    def __enter__(self) -> _Deadline:
        self.timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.timer.cancel()


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST ``body`` to an address ``url`` resolves to, as checked (the next one when one
    refuses the connection); the status. Raises UnsafeUrl and httpx.HTTPError."""
    host, addresses = resolve_target(url)
    parts = urlsplit(url)
    host_header = parts.netloc.rpartition("@")[2]
    # No environment proxies (they would resolve the name again), no redirects (a 3xx could
    # point anywhere), and the body is never read: the status says it all.
    timeout = httpx.Timeout(request_timeout(), connect=connect_timeout())
    deadline = _Deadline(total_timeout())
    with deadline, httpx.Client(timeout=timeout, trust_env=False, follow_redirects=False) as client:
        for index, address in enumerate(addresses):
            pinned_host = f"[{address}]" if ":" in address else address
            netloc = pinned_host if parts.port is None else f"{pinned_host}:{parts.port}"
            request = client.build_request(
                "POST",
                urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, "")),
                content=body,
                headers={**headers, "Host": host_header},
                extensions={
                    "trace": deadline.trace,
                    **({"sni_hostname": host} if parts.scheme == "https" else {}),
                },
            )
            try:
                response = client.send(request, stream=True)
            except httpx.ConnectError:
                if index == len(addresses) - 1:
                    raise
                continue
            except httpx.HTTPError:
                if deadline.passed:
                    raise httpx.TimeoutException(
                        f"no answer within {total_timeout():g} s in all", request=request
                    ) from None
                raise
            response.close()
            return response.status_code
    raise AssertionError("resolve_target returns at least one address")
