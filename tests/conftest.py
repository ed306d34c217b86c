"""Shared fixtures, as plugins (tests/fixtures/): personas, published content, a live ASGI
server, real worker, engine and devnet processes, Chromium, and the test tiers."""

from __future__ import annotations

import time
from types import SimpleNamespace

import django_ratelimit.core
import pytest

# The helpers under tests/fixtures/ that tests import (not only the plugins) keep pytest's
# assertion messages, as they had when they lived in test modules.
pytest.register_assert_rewrite("tests.fixtures")

pytest_plugins = [
    "tests.fixtures.browser",
    "tests.fixtures.clock",
    "tests.fixtures.content",
    "tests.fixtures.desktop_clients",
    "tests.fixtures.devnet",
    "tests.fixtures.isolation",
    "tests.fixtures.layout",
    "tests.fixtures.passwords",
    "tests.fixtures.personas",
    "tests.fixtures.prepared",
    "tests.fixtures.processes",
    "tests.fixtures.rentals",
    "tests.fixtures.servers",
    "tests.fixtures.tiers",
    "tests.fixtures.webhooks",
    "tests.fixtures.webrtc_peers",
    "tests.fixtures.webseed",
]


@pytest.fixture(autouse=True)
def _rate_limits_off_unless_asked(
    request: pytest.FixtureRequest, settings: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Limits count in the shared Redis across tests; only the tests about them turn them on.

    Those see one fixed window: django-ratelimit's windows are fixed minutes, and a test whose
    requests straddled the end of one (more likely on a busy machine) saw its count restart.
    """
    if "rate_limits" not in request.keywords:
        settings.RATELIMIT_ENABLE = False  # type: ignore[attr-defined]
        return
    frozen = time.time()
    monkeypatch.setattr(django_ratelimit.core, "time", SimpleNamespace(time=lambda: frozen))
