"""System checks for the TRON configuration."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register

NETWORKS = ("devnet", "nile", "mainnet")


@register()
def check_tron_settings(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    problems: list[CheckMessage] = []
    if settings.TRON_NETWORK not in NETWORKS:
        problems.append(
            Error(
                f"TRON_NETWORK is {settings.TRON_NETWORK!r}",
                hint=f"Use one of {', '.join(NETWORKS)}.",
                id="payments.E001",
            )
        )
    url = urlsplit(settings.TRON_API_URL)
    if url.scheme not in ("http", "https") or not url.hostname:
        problems.append(
            Error(
                f"TRON_API_URL is not an http(s) URL: {settings.TRON_API_URL!r}",
                hint="Point it at a TRON full node's HTTP API, e.g. https://api.trongrid.io.",
                id="payments.E002",
            )
        )
    if not settings.DEBUG and settings.TRON_NETWORK == "devnet":
        problems.append(
            Warning(
                "TRON_NETWORK is devnet with DEBUG off: payments are proven on a local test chain",
                hint="Set TRON_NETWORK=mainnet (or nile) in production.",
                id="payments.W001",
            )
        )
    return problems
