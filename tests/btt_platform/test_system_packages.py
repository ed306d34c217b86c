"""`make test` on a fresh machine: the Debian packages the tests need are installed when they
can be, and otherwise the one command to run is printed before anything else happens."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "tools" / "debian-packages.sh"


def run_as_nobody(folder: Path) -> subprocess.CompletedProcess[str]:
    """The script, copied into ``folder`` (the clone may sit where nobody cannot read), run as
    the unprivileged user with ``folder`` first on the PATH."""
    setpriv = shutil.which("setpriv")
    if setpriv is None or os.geteuid() != 0:
        pytest.fail("this test runs as root (CI does) and needs setpriv (util-linux)")
    script = folder / SCRIPT.name
    shutil.copy(SCRIPT, script)
    script.chmod(0o755)
    return subprocess.run(
        [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "bash", str(script)],
        env={"PATH": f"{folder}:/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.mark.processes
def test_without_root_it_stops_at_once_and_prints_the_command() -> None:
    # given: a machine where none of the packages is installed (dpkg-query knows none), in a
    # folder the unprivileged user can read (pytest's tmp_path is root's alone)
    stubs = Path(tempfile.mkdtemp(prefix="btt-stubs-", dir="/tmp"))
    stubs.chmod(0o755)
    (stubs / "dpkg-query").write_text("#!/bin/sh\nexit 1\n")
    (stubs / "dpkg-query").chmod(0o755)
    try:
        result = run_as_nobody(stubs)
    finally:
        shutil.rmtree(stubs)

    assert result.returncode == 1
    assert (
        "sudo apt-get install -y --no-install-recommends aria2 transmission-daemon "
        "qbittorrent-nox rtorrent iproute2 nginx-light chromium" in result.stderr
    )


@pytest.mark.processes
def test_with_everything_installed_it_does_nothing() -> None:
    result = subprocess.run(
        ["bash", str(SCRIPT)], capture_output=True, text=True, timeout=30, check=False
    )

    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
