"""Who may see the studio: ``creator_required`` guards every creator's own page (also the
studio pages of ``support``)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render

from accounts.http import AuthenticatedHttpRequest, authenticated
from creators.models import Creator

P = ParamSpec("P")
R = TypeVar("R", bound=HttpResponseBase)


def creator_required(
    view: Callable[Concatenate[AuthenticatedHttpRequest, Creator, P], R],
) -> Callable[Concatenate[HttpRequest, P], R | HttpResponse]:
    """Logged in and a creator; anyone else gets a 403 page that says how to become one."""

    def wrapper(request: HttpRequest, /, *args: P.args, **kwargs: P.kwargs) -> R | HttpResponse:
        signed_in = authenticated(request)  # login_required ran first
        creator = Creator.objects.filter(user=signed_in.user).first()
        if creator is None:
            return render(request, "creators/studio/not_creator.html", status=403)
        return view(signed_in, creator, *args, **kwargs)

    functools.update_wrapper(wrapper, view)
    return login_required(wrapper)
