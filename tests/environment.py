"""Loaded with ``-p`` before Django starts: the test environment's defaults.

Tests run with development defaults (pytest-django then turns DEBUG off itself). Without
DATABASE_URL/REDIS_URL they use the embedded defaults in a fresh data folder, stopped and removed
at the end, so a run never touches a developer's ``var/``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "btt_platform.settings")
_OWN_DATA_DIR = "BTT_DATA_DIR" not in os.environ
if _OWN_DATA_DIR:
    # Short path: the embedded Redis socket lives inside it (sun_path is 108 bytes).
    os.environ["BTT_DATA_DIR"] = tempfile.mkdtemp(prefix="btt-test-", dir="/tmp")


def pytest_unconfigure(config: pytest.Config) -> None:
    from btt_platform import embedded

    data_dir = Path(os.environ["BTT_DATA_DIR"])
    if "REDIS_URL" not in os.environ:
        embedded.stop(data_dir)
    if _OWN_DATA_DIR:
        shutil.rmtree(data_dir, ignore_errors=True)
