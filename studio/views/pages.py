"""The public pages built on the catalog: a creator's page (what they published, with prices
and their tip box) and content covers."""

from __future__ import annotations

from pathlib import PurePosixPath

from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from creators.models import Creator
from swarm.models import Content

CREATOR_PAGE_SIZE = 24


def creator_page(request: HttpRequest, handle: str) -> HttpResponse:
    creator = get_object_or_404(Creator, handle=handle.lower(), user__is_active=True)
    contents = (
        Content.objects.listed()
        .filter(creator=creator)
        .select_related("price")
        .order_by("-published_at", "-pk")
    )
    page = Paginator(contents, CREATOR_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "creators/creator_page.html", {"creator": creator, "page": page})


# --- covers (public once published) -----------------------------------------------------------

COVER_TYPES = {
    ".jpg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".gif": "image/gif",
}


def content_cover(request: HttpRequest, content_id: int, name: str) -> FileResponse:
    """A content's cover image: public once published, its creator's (and staff's) before.

    Served here rather than as public media: whether it may be seen depends on the content's
    state, and each new cover gets a new name, so it can be cached for good.
    """
    content = Content.objects.select_related("creator").filter(pk=content_id).first()
    if content is None or not content.cover or PurePosixPath(content.cover.name).name != name:
        raise Http404("No such cover.")
    published = content.state in (Content.State.SEEDING, Content.State.UNHEALTHY)
    viewer = request.user
    if not published and not (
        viewer.is_authenticated and (viewer.pk == content.creator.user_id or viewer.is_staff)
    ):
        raise Http404("No such cover.")
    content_type = COVER_TYPES.get(PurePosixPath(name).suffix.lower())
    if content_type is None:
        raise Http404("No such cover.")
    try:
        handle = content.cover.open("rb")
    except FileNotFoundError:
        raise Http404("No such cover.") from None
    response = FileResponse(handle, content_type=content_type)
    response["Cache-Control"] = (
        "public, max-age=31536000, immutable" if published else "private, no-cache"
    )
    return response
