"""System checks for the swarm engine's configuration."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register


def parse_listen_interfaces(value: str) -> list[tuple[str, int]]:
    """Parse libtorrent's ``listen_interfaces`` form: ``host:port[,host:port]`` ([v6]:port too)."""
    result = []
    for item in value.split(","):
        host, sep, port = item.strip().rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError(f"{item.strip()!r} is not host:port")
        result.append((host.strip("[]"), int(port)))
    return result


@register()
def check_swarm_settings(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    problems: list[CheckMessage] = []
    try:
        parse_listen_interfaces(settings.SWARM_LISTEN_INTERFACES)
    except ValueError as exc:
        problems.append(
            Error(
                f"SWARM_LISTEN_INTERFACES is malformed: {exc}",
                hint="e.g. 0.0.0.0:6881,[::]:6881",
                id="swarm.E001",
            )
        )
    state_dir = settings.SWARM_STATE_DIR
    parent = state_dir if state_dir.exists() else state_dir.parent
    if not os.access(parent, os.W_OK):
        problems.append(
            Error(
                f"SWARM_STATE_DIR {state_dir} is not writable",
                hint="The engine keeps resume data there.",
                id="swarm.E002",
            )
        )
    data_dir = Path(settings.SWARM_DATA_DIR or settings.CONTENT_ROOT).resolve()
    existing = next(folder for folder in (data_dir, *data_dir.parents) if folder.exists())
    if not os.access(existing, os.W_OK):  # (the engine makes the missing folders)
        problems.append(
            Error(
                f"SWARM_DATA_DIR {data_dir} is not writable",
                hint="The engine fetches the contents placed on it there (its own folder).",
                id="swarm.E003",
            )
        )
    return problems
