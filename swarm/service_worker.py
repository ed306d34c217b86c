"""``/webtorrent-sw.js``: WebTorrent's service worker, so a player plays a file while the swarm
is still fetching it.

WebTorrent streams to a ``<video>`` through a URL under ``/webtorrent/`` that its service worker
answers from the page's torrent (Range requests included). A service worker only sees the
requests of pages inside its scope, and its scope cannot reach above the folder it is served
from: the download pages are all over the site, so it is served from the root. It answers only
``/webtorrent/`` URLs; every other request goes to the network untouched.
"""

from __future__ import annotations

from pathlib import Path

from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import staticfiles_storage
from django.http import HttpRequest, HttpResponse

SCRIPT = "vendor/webtorrent/sw.min.js"


def _script() -> bytes:
    found = finders.find(SCRIPT)
    if isinstance(found, str):
        data = Path(found).read_bytes()
    else:
        with staticfiles_storage.open(SCRIPT) as file:  # collected, without node_modules
            data = file.read()
    # Its source map sits beside it in the static files, not at the root.
    return b"\n".join(
        line for line in data.splitlines() if not line.startswith(b"//# sourceMappingURL")
    )


def service_worker(request: HttpRequest) -> HttpResponse:
    # no-cache: a new WebTorrent (npm update) reaches browsers at their next visit.
    return HttpResponse(
        _script(), content_type="text/javascript", headers={"Cache-Control": "no-cache"}
    )


def worker_signal(request: HttpRequest) -> HttpResponse:
    """``/webtorrent/cancel/`` and ``/webtorrent/keepalive/``: the service worker answers these
    itself, but one the page sends while no worker controls it (the page leaving, the worker not
    yet active) reaches the site; an empty answer instead of a 404 in the fan's console."""
    return HttpResponse(status=204)
