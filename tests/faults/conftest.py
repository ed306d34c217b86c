"""The fault tests' shared layout."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.fixtures.layout import Layout, running_layout


# Here rather than in the plugin: a package-scoped fixture lives until the end of the package
# that defines it, which for a plugin's is the whole session. From here it stops after this
# package's last test on a worker, and the tests after it start without its processes and rows.
@pytest.fixture(scope="package")
def layout(
    django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Layout]:
    """``make run``'s processes on the test database, shared by the fault tests."""
    with running_layout(django_db_blocker, tmp_path_factory) as running:
        yield running
