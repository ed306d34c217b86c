"""What the ASGI fast paths share: the tracker and the web seed answer before Django does.

They skip Django's middleware for speed, so whatever of it still matters is redone here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from django.conf import settings

# The ASGI interface, loosely typed (as Starlette does): messages are plain dicts.
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def secure_enough(scope: Scope) -> bool:
    """False when Django would redirect this request to HTTPS (SECURE_SSL_REDIRECT).

    Such requests go on to Django, whose SecurityMiddleware answers with the redirect.
    """
    if not settings.SECURE_SSL_REDIRECT or scope.get("scheme") == "https":
        return True
    proxy_header: tuple[str, str] | None = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy_header is None:
        return False
    name, secure_value = proxy_header
    wanted = name.removeprefix("HTTP_").lower().replace("_", "-").encode("latin-1")
    for raw_name, raw_value in scope["headers"]:
        if raw_name.lower() == wanted:
            return bool(raw_value.decode("latin-1").split(",")[0].strip() == secure_value)
    return False
