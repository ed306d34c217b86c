from django.urls import path, re_path

from swarm import service_worker, uploads, views
from swarm.tracker.asgi import announce_view, scrape_view
from swarm.webseed.asgi import serve_view

urlpatterns = [
    # The path must start with /announce: libtorrent's ssrf_mitigation refuses other paths on
    # private (loopback, LAN) addresses.
    path("announce/<str:passkey>", announce_view, name="announce"),
    path("scrape/<str:passkey>", scrape_view, name="scrape"),
    # Without a passkey: a bencoded "passkey required", which clients show, instead of a 404.
    path("announce", announce_view),
    path("announce/", announce_view),
    path("scrape", scrape_view),
    path("scrape/", scrape_view),
    re_path(
        r"^webseed/(?P<content_id>\d+)/(?P<token>[A-Za-z0-9_-]+)/(?P<path>.+)$",
        serve_view,
        name="webseed",
    ),
    # The fan's pages. Content pages are /content/<id>/: /c/<handle>/ is the creator's page.
    path("library/", views.library, name="library"),
    path("content/<int:content_id>/", views.content_page, name="content-page"),
    # WebTorrent's service worker, at the root so that its scope covers every page with a player.
    path("webtorrent-sw.js", service_worker.service_worker, name="webtorrent-service-worker"),
    path("webtorrent/cancel/", service_worker.worker_signal),
    path("webtorrent/keepalive/", service_worker.worker_signal),
    # Resumable uploads (tus): plain views, since tus PATCH bodies are raw bytes streamed to disk.
    re_path(r"^api/v1/uploads/?$", uploads.collection, name="tus-uploads"),
    path("api/v1/uploads/<uuid:upload_id>", uploads.resource, name=uploads.UPLOAD_URL_NAME),
]
