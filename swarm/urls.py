from django.urls import path, re_path

from swarm import tracker, uploads, views, webseed

urlpatterns = [
    # The path must start with /announce: libtorrent's ssrf_mitigation refuses other paths on
    # private addresses (FIELD-NOTES "libtorrent").
    path("announce/<str:passkey>", tracker.announce_view, name="announce"),
    path("scrape/<str:passkey>", tracker.scrape_view, name="scrape"),
    # Without a passkey: a bencoded "passkey required", which clients show, instead of a 404.
    path("announce", tracker.announce_view),
    path("announce/", tracker.announce_view),
    path("scrape", tracker.scrape_view),
    path("scrape/", tracker.scrape_view),
    re_path(
        r"^webseed/(?P<content_id>\d+)/(?P<token>[A-Za-z0-9_-]+)/(?P<path>.+)$",
        webseed.serve,
        name="webseed",
    ),
    # The fan's pages. Content pages are /content/<id>/: /c/<handle>/ is the creator's page.
    path("library/", views.library, name="library"),
    path("content/<int:content_id>/", views.content_page, name="content-page"),
    # Resumable uploads (tus): plain views, since tus PATCH bodies are raw bytes streamed to disk.
    re_path(r"^api/v1/uploads/?$", uploads.collection, name="tus-uploads"),
    path("api/v1/uploads/<uuid:upload_id>", uploads.resource, name=uploads.UPLOAD_URL_NAME),
]
