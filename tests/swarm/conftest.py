"""A whole swarm on loopback: the live site (tracker, web seed), published content, engines."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from btt_platform.celery import app as celery_app
from creators.models import Creator
from swarm import ingest, webseed
from swarm.models import Content
from tests.conftest import AsgiServer, Child


@dataclass
class Site:
    """The live server with the settings a separate engine process must share with it."""

    server: AsgiServer
    content_root: Path
    upload_root: Path

    @property
    def url(self) -> str:
        return self.server.url

    def engine_env(self) -> dict[str, str]:
        return {
            "SITE_URL": self.url,
            "CONTENT_ROOT": str(self.content_root),
            "UPLOAD_ROOT": str(self.upload_root),
        }


@pytest.fixture
def site(asgi_server: AsgiServer, settings, tmp_path: Path) -> Iterator[Site]:
    """Torrents announce to, and web seeds point at, the live server; files under tmp_path."""
    settings.SITE_URL = asgi_server.url
    settings.CONTENT_ROOT = tmp_path / "content"
    settings.UPLOAD_ROOT = tmp_path / "uploads"
    settings.WEBSEED_X_ACCEL = False
    settings.WEBSEED_RATE_LIMIT = 0
    webseed.clear_auth_cache()
    yield Site(asgi_server, settings.CONTENT_ROOT, settings.UPLOAD_ROOT)
    webseed.clear_auth_cache()


def uploaded(creator: Creator, files: dict[str, bytes], **fields: Any) -> Content:
    """A content whose files went through the upload code (as the tus views drive it)."""
    content = ingest.create_content(creator.user, title=fields.pop("title", "Ingest"), **fields)
    for name, data in files.items():
        upload = ingest.create_upload(creator.user, content.pk, name, len(data))
        writer = ingest.UploadWriter(upload)
        writer.begin(0)
        writer.write(data)
        writer.commit()
        writer.close()
    return content


@pytest.fixture
def publish(site: Site) -> Iterator[Callable[..., Content]]:
    """Uploads files through the upload code, publishes, and hashes in this process.

    ``publish(creator, {"a.bin": data})`` is a single-file torrent; several files make a bundle
    named after ``title``. The ingest task runs eagerly here, so no worker is needed and nothing
    is left queued on the shared broker.
    """
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True

    def publish_(
        creator: Creator,
        files: dict[str, bytes],
        *,
        title: str = "Release",
        access: str = Content.Access.FREE,
    ) -> Content:
        content = uploaded(creator, files, title=title, access=access)
        ingest.publish_content(creator.user, content.pk)
        content.refresh_from_db()
        assert content.state == Content.State.SEEDING, content.state_detail
        return content

    try:
        yield publish_
    finally:
        celery_app.conf.task_always_eager = eager


@pytest.fixture
def site_engine(site: Site, engine_factory: Callable[..., Child]) -> Callable[..., Child]:
    """Starts (or, given ``name``, restarts) an engine that seeds the site's content."""

    def start(name: str | None = None) -> Child:
        return engine_factory(name=name, **site.engine_env())

    return start
