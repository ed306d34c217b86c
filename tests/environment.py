"""Loaded with ``-p`` before Django starts: the test environment's defaults.

Tests run with development defaults (pytest-django then turns DEBUG off itself). Without
DATABASE_URL/REDIS_URL they use the embedded defaults in a fresh data folder, stopped and removed
at the end, so a run never touches a developer's ``var/``.

Under pytest-xdist each worker process is a run of its own: its own data folder (so its own
SQLite file, embedded Redis, static and media folders), its own PostgreSQL test database
(pytest-django adds the worker's name), and, on a shared Redis server, its own database number,
so its Celery queues, cache and rate-limit counters are its own. Child processes (workers,
engines, devnets) inherit the worker's environment, so they land on the same ones.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "btt_platform.settings")
# The folder this run made, so an xdist worker (which inherits the controller's environment)
# tells it from one the developer chose, and makes its own instead of sharing it.
_MADE = "BTT_TEST_DATA_DIR"
_OWN_DATA_DIR = "BTT_DATA_DIR" not in os.environ or (
    "PYTEST_XDIST_WORKER" in os.environ and os.environ["BTT_DATA_DIR"] == os.environ.get(_MADE)
)
if _OWN_DATA_DIR:
    # Short path: the embedded Redis socket lives inside it (sun_path is 108 bytes).
    os.environ["BTT_DATA_DIR"] = os.environ[_MADE] = tempfile.mkdtemp(
        prefix="btt-test-", dir="/tmp"
    )


# The platform clock's offset (btt_platform/clock.py) for this run, inherited by the processes it
# starts, so the ``clock`` fixture moves their time too.
os.environ["CLOCK_OFFSET_FILE"] = str(Path(os.environ["BTT_DATA_DIR"]) / "clock-offset")


def worker_number() -> int:
    """0 for a run without xdist or its first worker ``gw0``; n for ``gw<n>``."""
    return int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))


def redis_url_of_worker(url: str, number: int) -> str:
    """The shared server's database ``base + number`` (a server has 16 by default)."""
    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{base + number}"))


if "REDIS_URL" in os.environ and worker_number():
    os.environ["REDIS_URL"] = redis_url_of_worker(os.environ["REDIS_URL"], worker_number())


def pytest_unconfigure(config: pytest.Config) -> None:
    from btt_platform import embedded

    data_dir = Path(os.environ["BTT_DATA_DIR"])
    if "REDIS_URL" not in os.environ:
        embedded.stop(data_dir)
    if _OWN_DATA_DIR:
        shutil.rmtree(data_dir, ignore_errors=True)
