"""One cache client for the process: Django's cache handler is context-local, so under ASGI
each request (a context of its own) gets a new client, with a Redis connection pool of its own."""

from __future__ import annotations

import contextvars

from django.core.cache import BaseCache, caches

from btt_platform.cache import shared


def in_a_new_context(alias: str) -> tuple[BaseCache, BaseCache]:
    return contextvars.Context().run(lambda: (caches[alias], shared(alias)))


def test_requests_in_contexts_of_their_own_share_one_client() -> None:
    # when: two requests' contexts ask for the default cache
    first_django, first_shared = in_a_new_context("default")
    second_django, second_shared = in_a_new_context("default")

    # then: Django's handler made a client for each; the shared one is one client
    assert first_django is not second_django
    assert first_shared is second_shared
    assert shared() is first_shared
