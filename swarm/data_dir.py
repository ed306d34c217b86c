"""Where this node keeps the bytes of contents (ARCHITECTURE, "Storage contract").

Each engine node has its own data directory, ``SWARM_DATA_DIR``: the save path of its torrents
(``<data dir>/<content id>/``) and what the web process beside it serves as the web seed. A node
fetches the contents placed on it over BitTorrent into it. Unset, it is ``CONTENT_ROOT``, where
uploads are published and hashed: one machine, one folder, as before there were several nodes.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings


def data_dir() -> Path:
    """This node's data directory."""
    return Path(settings.SWARM_DATA_DIR or settings.CONTENT_ROOT)


def holds_uploads() -> bool:
    """Whether this node's data directory is where uploads are published (``CONTENT_ROOT``)."""
    return data_dir().resolve() == Path(settings.CONTENT_ROOT).resolve()


def content_dir(content_id: int) -> Path:
    """The save path of ``content_id``'s torrent on this node."""
    return data_dir() / str(content_id)
