"""System checks for the platform-wide configuration."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Error, register


@register()
def check_site_url(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    url = urlsplit(settings.SITE_URL)
    if url.scheme not in ("http", "https") or not url.hostname or url.path not in ("", "/"):
        return [
            Error(
                f"SITE_URL must be an absolute http(s) origin, got {settings.SITE_URL!r}",
                hint="It goes into torrents (announce, url-list) and emails: "
                "e.g. https://creators.example.com",
                id="btt_platform.E001",
            )
        ]
    if not settings.DEBUG and url.scheme != "https":
        return [
            Error(
                "SITE_URL must use https when DEBUG is false",
                hint="Browsers and wallets refuse mixed content; put TLS in front (nginx).",
                id="btt_platform.E002",
            )
        ]
    return []
