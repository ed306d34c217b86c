"""Who may open which staff page: an active staff account holding the page's permission.

Anonymous visitors go to the login page; everyone else without the permission gets 403, the
same answer whether or not the object they asked about exists.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseBase

from accounts.models import User
from staff import roles

View = TypeVar("View", bound=Callable[..., HttpResponseBase])

ANY_ROLE = (roles.MODERATE, roles.RECONCILE, roles.VIEW_AUDIT, roles.VIEW_HEALTH)


def may(user: Any, permission: str) -> bool:
    """Whether ``user`` (maybe anonymous) holds ``permission`` as staff."""
    return isinstance(user, User) and user.is_active and user.is_staff and user.has_perm(permission)


def is_staff_member(user: Any) -> bool:
    return any(may(user, permission) for permission in ANY_ROLE)


def staff_page(permission: str | None) -> Callable[[View], View]:
    """Guard a view: ``permission`` required (None: any staff role)."""

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            allowed = (
                is_staff_member(request.user)
                if permission is None
                else may(request.user, permission)
            )
            if not allowed:
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return guarded  # type: ignore[return-value]

    return decorate
