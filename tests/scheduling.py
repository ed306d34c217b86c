"""Loaded with ``-p``: under ``--dist loadgroup``, the tests that share one running layout go to
one xdist worker.

The fault tests (``tests/faults``, marked ``xdist_group("layout")``) share a ``make run`` layout of
seven processes per worker that runs any of them: started once, it costs about 40 s of both
cores; started by every worker, it costs that each time, and loads the machine under the other
tests. xdist groups by the mark's name, which it appends to each test's id; with pytest 9.2 it
does not (pytest-xdist#1386), so this scheduler also groups by the package, which the controller
knows without collecting.
"""

from __future__ import annotations

from typing import Any

import pytest
from xdist.scheduler import LoadGroupScheduling

# Packages whose tests share one fixture that is costly to start, and the group each forms.
GROUPED_PACKAGES = {"tests/faults/": "layout"}


class PackageGroupScheduling(LoadGroupScheduling):  # type: ignore[misc]  # xdist: untyped
    def _split_scope(self, nodeid: str) -> str:
        for package, group in GROUPED_PACKAGES.items():
            if nodeid.startswith(package):
                return group
        return str(super()._split_scope(nodeid))


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> LoadGroupScheduling | None:
    if config.getvalue("dist") != "loadgroup":
        return None
    return PackageGroupScheduling(config, log)
