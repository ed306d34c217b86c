"""Loaded with ``-p`` (pyproject.toml): under ``--dist loadfile``, a worker takes the fault
tests (``tests/faults``) as one unit, as it takes any other file.

They share one running ``make run`` layout of seven processes (``tests/faults/conftest.py``),
which takes about 40 s of both cores to start: once per run this way, where file by file each
worker that ran one started it again. Which file goes out when is the collection's order
(``tests/fixtures/tiers.py``, the costliest first; ``--no-loadscope-reorder``).
"""

from __future__ import annotations

from typing import Any

import pytest
from xdist.scheduler import LoadFileScheduling

# Packages whose tests share a costly package-scoped fixture: each goes to one worker whole.
SHARED_PACKAGES = ("tests/faults/",)


def unit(nodeid: str) -> str:
    """What a worker takes at once with the test ``nodeid``: its file, or its shared package."""
    for package in SHARED_PACKAGES:
        if nodeid.startswith(package):
            return package
    return nodeid.split("::", 1)[0]


class PackageFileScheduling(LoadFileScheduling):  # type: ignore[misc]  # xdist: untyped
    def _split_scope(self, nodeid: str) -> str:
        return unit(nodeid)


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> LoadFileScheduling | None:
    if config.getvalue("dist") != "loadfile":
        return None
    return PackageFileScheduling(config, log)
