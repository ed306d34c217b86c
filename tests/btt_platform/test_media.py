"""Development media serving: avatars are public, content files and uploads are not."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import clear_url_caches

import btt_site.urls


@pytest.fixture(autouse=True)
def debug_urls(settings) -> Iterator[None]:
    """The URL conf as ``make run`` builds it (pytest-django turns DEBUG off before import)."""
    settings.DEBUG = True
    importlib.reload(btt_site.urls)
    clear_url_caches()
    yield
    settings.DEBUG = False
    importlib.reload(btt_site.urls)
    clear_url_caches()


@pytest.mark.parametrize(
    ("relative", "status"),
    [
        ("avatars/face.png", 200),
        ("content/7/track.bin", 404),  # paid files go out only through the web seed's tokens
        ("uploads/0b1c/part", 404),  # an unfinished upload is nobody's business
    ],
)
def test_only_avatars_are_served_from_media(client: Client, relative: str, status: int) -> None:
    # given: a file at each place below MEDIA_ROOT (the URL conf bound it at import)
    file = Path(settings.MEDIA_ROOT) / relative
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_bytes(b"secret bytes")

    # when
    try:
        response = client.get(f"/media/{relative}")
    finally:
        file.unlink()

    # then
    assert response.status_code == status
    if status == 404:
        assert b"secret bytes" not in response.content
