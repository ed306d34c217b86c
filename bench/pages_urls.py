"""The site's URLs and ``/bench/floor``: a view that answers "ok" through the same middleware,
the least a Django page costs on this server (bench/pages.py measures against it)."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from btt_site.urls import urlpatterns as site


def floor(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"ok", content_type="text/plain")


urlpatterns = [path("bench/floor", floor), *site]
