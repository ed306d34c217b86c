"""The node side of the replication bench: ``runswarm`` with extra libtorrent settings
(``bench/replication.py --runswarm SETTINGS``), and py-spy recording a node while it fetches."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import libtorrent as lt

from bench.common import PYTHON


def start_profile(pid: int, out: Path) -> subprocess.Popen[bytes] | None:
    """py-spy recording ``pid``'s threads, native frames included (libtorrent's C++), until
    interrupted; None without py-spy."""
    spy = shutil.which("py-spy") or str(Path(PYTHON).with_name("py-spy"))
    if not Path(spy).exists():
        return None
    return subprocess.Popen(
        [spy, "record", "--pid", str(pid), "--native", "--threads", "--rate", "200",
         "--format", "raw", "--output", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def profile_summary(out: Path, top: int = 8) -> str:
    """py-spy's top functions by own time (share of the samples), from a raw recording."""
    if not out.exists():
        return "py-spy recorded nothing (needs ptrace permission)"
    own: dict[str, int] = {}
    total = 0
    for line in out.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        total += int(count)
        leaf = stack.split(";")[-1]
        own[leaf] = own.get(leaf, 0) + int(count)
    ranked = sorted(own.items(), key=lambda item: -item[1])[:top]
    return "; ".join(f"{name} {100 * n / total:.0f}%" for name, n in ranked) if total else ""


def run_node(settings_json: str) -> None:
    """``manage.py runswarm`` with ``settings_json``'s libtorrent settings on top."""
    from django.core.management import execute_from_command_line

    from swarm.engine import seeder, session_settings

    extra = json.loads(settings_json)
    original = session_settings.seedbox_settings

    def patched(*args: Any, **kwargs: Any) -> lt.settings_pack:
        pack = original(*args, **kwargs)
        pack.update(extra)
        return pack

    # (The seeder module took its own reference to the function when it was imported.)
    vars(seeder)["seedbox_settings"] = patched
    execute_from_command_line(["manage.py", "runswarm", "--skip-checks"])
