"""The libtorrent session: ``swarm.engine.Seeder`` runs inside ``manage.py runswarm`` only.

One session per node, with seedbox settings. One loop pumps alerts, reconciles the session with
what the database says is published, saves resume data, and reports stats and a heartbeat. The
Seeder itself knows nothing of the ORM: ``runswarm`` hands it ``Published`` records and receives
``HealthReport``s and ``TorrentStats`` back.

- ``seeder`` — the ``Seeder``: the session, reconciliation, alerts, the loop, a clean stop;
- ``session_settings`` — the seedbox settings the session is built from;
- ``ip_filter`` — admission: paid torrents served to admitted addresses only;
- ``announces`` — failed announces retried by the engine itself;
- ``health`` — file checks and the health reports for the database;
- ``resume`` — every content's resume data in one file, written atomically;
- ``webrtc`` — seeding to browsers: the WebSocket tracker's URL and the WebRTC settings.

The engine's modules all log as ``swarm.engine``.
"""

from swarm.engine.ip_filter import allow_only
from swarm.engine.seeder import EngineConfig, Seeder
from swarm.engine.session_settings import seedbox_settings
from swarm.engine.webrtc import WebRtcConfig, websocket_announce_url

__all__ = [
    "EngineConfig",
    "Seeder",
    "WebRtcConfig",
    "allow_only",
    "seedbox_settings",
    "websocket_announce_url",
]
