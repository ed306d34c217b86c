"""The request of a signed-in user, as a type.

Views behind ``login_required`` (and ``creators.access.creator_required``) and API routes that
require authentication (the API's default) annotate their request as ``AuthenticatedHttpRequest``
and read ``request.user`` as a ``User``; code that receives a plain ``HttpRequest`` narrows it
with ``authenticated``.
"""

from __future__ import annotations

from typing import cast

from django.http import HttpRequest

from accounts.models import User


class AuthenticatedHttpRequest(HttpRequest):
    """An ``HttpRequest`` whose ``user`` is a signed-in ``User`` (the django-stubs way)."""

    user: User


def authenticated(request: HttpRequest) -> AuthenticatedHttpRequest:
    """``request`` as the request of a signed-in user; only for requests that passed a login
    check (``login_required``, the API's authentication)."""
    assert isinstance(request.user, User)  # the login check ran before
    return cast(AuthenticatedHttpRequest, request)
