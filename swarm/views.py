"""The fan's pages: the library of what they may download, and the page of each content.

Downloads go through the fan's own links only: the .torrent and magnet from the API (their
passkey), and their signed web-seed URL for the browser download and for playback. A content the
viewer may not download shows no such link anywhere in the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from django.contrib.auth.decorators import login_required
from django.core.paginator import Page, Paginator
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse

from accounts.models import User
from ledger import access
from purchases.services import open_purchase_invoice
from swarm import torrents
from swarm.models import Content, ContentFile
from swarm.webseed import safe_content_type, torrent_paths, webseed_url_for

PUBLISHED = (Content.State.SEEDING, Content.State.UNHEALTHY)
LIBRARY_PAGE_SIZE = 20


@dataclass(frozen=True)
class MediaFile:
    """A file the browser can play straight from the web seed (Range requests make seeking work)."""

    label: str
    url: str
    kind: str  # "video" or "audio"
    content_type: str


@dataclass(frozen=True)
class Links:
    """Everything a viewer allowed to download gets: only ever built after the ledger allowed
    it (``ledger.access.may_fetch``)."""

    torrent_url: str
    # None for paid content: no client can fetch a private torrent's details from a magnet.
    magnet: str | None
    media: list[MediaFile]


def _viewer(request: HttpRequest) -> User | None:
    user = request.user
    return user if isinstance(user, User) and user.is_active else None


def _links(content: Content, user: User) -> Links:
    base = webseed_url_for(user, content)
    media = []
    for path, file in torrent_paths(content).items():
        content_type = safe_content_type(path)
        kind = content_type.partition("/")[0]
        if kind in ("video", "audio"):
            label = file.path if content.is_bundle else content.name
            media.append(MediaFile(label, base + quote(path), kind, content_type))
    return Links(
        torrent_url=reverse("api-v1:torrent_file", args=[content.pk]),
        magnet=None if content.is_private else torrents.magnet_uri(content, user),
        media=media,
    )


def _price_label(content: Content) -> str | None:
    price = getattr(content, "price", None)  # payments.ContentPrice, when the creator set one
    return str(price.amount) if price is not None else None


def content_page(request: HttpRequest, content_id: int) -> HttpResponse:
    """Public for published content; its creator and staff also see it before and after."""
    content = get_object_or_404(
        Content.objects.select_related("creator", "creator__user"), pk=content_id
    )
    if content.state == Content.State.REMOVED:
        # Taken down by staff: the page says so (410 Gone), with the reason and nothing else.
        return render(request, "swarm/removed.html", {"content": content}, status=410)
    viewer = _viewer(request)
    is_owner = viewer is not None and (content.creator.user_id == viewer.pk or viewer.is_staff)
    if content.state not in PUBLISHED and not is_owner:
        raise Http404("No such content.")
    files: list[ContentFile] = list(content.files.all())
    allowed = viewer is not None and access.may_fetch(viewer, content)
    return render(
        request,
        "swarm/content.html",
        {
            "content": content,
            "files": files,
            "is_owner": is_owner,
            "published": content.state in PUBLISHED,
            "links": _links(content, viewer) if allowed and viewer is not None else None,
            "price": _price_label(content),
            "open_invoice": (
                open_purchase_invoice(viewer, content)
                if viewer is not None and not allowed and content.is_private
                else None
            ),
        },
    )


def library_contents(user: User) -> QuerySet[Content]:
    """What ``user`` may download: content they hold a live grant for, and their own, once
    published (the same rule as ``ledger.access.decide``, asked in bulk)."""
    granted = Q(pk__in=access.granted_content_ids(user))
    return (
        Content.objects.published()
        .filter(granted | Q(creator__user=user))
        .select_related("creator")
        .prefetch_related("files")
        .distinct()
        .order_by("title", "pk")
    )


@dataclass(frozen=True)
class LibraryItem:
    content: Content
    links: Links
    own: bool


@login_required
def library(request: HttpRequest) -> HttpResponse:
    user = _viewer(request)
    assert user is not None  # behind login_required
    page: Page[Content] = Paginator(library_contents(user), LIBRARY_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    items = [
        LibraryItem(content, _links(content, user), content.creator.user_id == user.pk)
        for content in page
    ]
    return render(request, "swarm/library.html", {"items": items, "page": page})
