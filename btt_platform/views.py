from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def rate_limited(request: HttpRequest, exception: Exception) -> HttpResponse:
    response = render(request, "rate_limited.html", status=429)
    response["Retry-After"] = "60"
    return response
