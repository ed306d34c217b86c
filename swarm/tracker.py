"""Placeholder while the tracker is being written; replaced in the same change."""

from django.http import HttpRequest, HttpResponse


def _not_yet(request: HttpRequest, **kwargs: str) -> HttpResponse:
    return HttpResponse(status=501)


announce_view = scrape_view = _not_yet
