from django.urls import path, re_path

from swarm import tracker, webseed

urlpatterns = [
    # The path must start with /announce: libtorrent's ssrf_mitigation refuses other paths on
    # private addresses (FIELD-NOTES "libtorrent").
    path("announce/<str:passkey>", tracker.announce_view, name="announce"),
    path("scrape/<str:passkey>", tracker.scrape_view, name="scrape"),
    re_path(
        r"^webseed/(?P<content_id>\d+)/(?P<token>[A-Za-z0-9_-]+)/(?P<path>.+)$",
        webseed.serve,
        name="webseed",
    ),
]
