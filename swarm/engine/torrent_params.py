"""How the engine adds a content's torrent to its session, seeding or fetching alike."""

from __future__ import annotations

import libtorrent as lt

from swarm.engine.webrtc import WebRtcConfig, websocket_announce_url
from swarm.seeding import Published


def configure(
    params: lt.add_torrent_params,
    item: Published,
    announce_url: str,
    webrtc: WebRtcConfig | None,
) -> bool:
    """Set the trackers, web seeds, flags and save path of ``item``'s torrent; return whether
    it is paid (private flag: served to admitted addresses only)."""
    # No web seeds: nodes fetch from each other as peers. The engine announces with its own
    # passkey to the HTTP tracker and, with WebRTC on, to the WebSocket tracker.
    if params.ti is not None:
        params.ti.set_web_seeds([])
    params.url_seeds = []
    trackers = [announce_url]
    if webrtc is not None:
        trackers.append(websocket_announce_url(announce_url))
    # (Assigned whole: the binding hands out a copy, so an append to it would be lost.)
    params.trackers = trackers
    params.flags |= lt.torrent_flags.override_trackers | lt.torrent_flags.override_web_seeds
    params.flags &= ~lt.torrent_flags.auto_managed
    params.flags &= ~lt.torrent_flags.paused
    # Paid torrents obey the allow-list (the other nodes are on it); free ones are served to
    # anyone who has the hash (add_torrent_params sets apply_ip_filter by default).
    info = params.ti if params.ti is not None else lt.torrent_info(item.metainfo)
    private = bool(info.priv())
    if private:
        params.flags |= lt.torrent_flags.apply_ip_filter
    else:
        params.flags &= ~lt.torrent_flags.apply_ip_filter
    params.save_path = str(item.save_path)
    return private
