"""The fan's pages: the library of what they may download, and the page of each content.

Downloads go through the fan's own links only: the .torrent and magnet from the API (their
passkey), and their signed web-seed URL for the browser download and for playback. A content the
viewer may not download shows no such link anywhere in the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from django.contrib.auth.decorators import login_required
from django.core.paginator import Page, Paginator
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import mark_safe

from accounts.models import User
from btt_platform import clock
from ledger import access
from ledger.models import Grant
from swarm import peer_sharing, public_page, torrents
from swarm.checkout import RefundOffer, open_invoice, refund_offers
from swarm.models import Content, ContentFile
from swarm.peer_sharing import PeerMode
from swarm.webseed.doors import door_origins, webseed_url_on_a_node
from swarm.webseed.tokens import safe_content_type, torrent_paths

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
    # The browser client (WebTorrent): whether it shares with other viewers, and its URLs.
    p2p: PeerMode
    browser_torrent_url: str
    peer_bytes_url: str


def _viewer(request: HttpRequest) -> User | None:
    user = request.user
    return user if isinstance(user, User) and user.is_active else None


def _links(content: Content, user: User) -> Links:
    base = webseed_url_on_a_node(user, content)
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
        p2p=peer_sharing.mode_for(user, content),
        browser_torrent_url=peer_sharing.browser_torrent_url(content),
        peer_bytes_url=peer_sharing.report_url(content),
    )


def _price_label(content: Content) -> str | None:
    price = getattr(content, "price", None)  # payments.ContentPrice, when the creator set one
    return str(price.amount) if price is not None else None


def content_page(request: HttpRequest, content_id: int) -> HttpResponse:
    """Public for published content; its creator and staff also see it before and after."""
    viewer = _viewer(request)
    if viewer is None:
        kept = public_page.articles.get_or_render(
            str(content_id), lambda: _public_article(request, content_id)
        )
        if kept is not None:
            title, article = kept
            # Rendered from our own template, escaped there (_public_article).
            context = {"title": title, "article": mark_safe(article)}  # noqa: S308
            return render(request, "swarm/content.html", context)
    content = get_object_or_404(_with_page_facts(Content.objects.all()), pk=content_id)
    if content.state == Content.State.REMOVED:
        # Taken down by staff: the page says so (410 Gone), with the reason and nothing else.
        return render(request, "swarm/removed.html", {"content": content}, status=410)
    is_owner = viewer is not None and (content.creator.user_id == viewer.pk or viewer.is_staff)
    if content.state not in PUBLISHED and not is_owner:
        raise Http404("No such content.")
    context = _article_context(content, viewer, is_owner)
    response = render(request, "swarm/content.html", context)
    origins = door_origins(content) if context["links"] is not None else []
    if origins:
        # The players and the browser download fetch from the nodes' web seeds, on their own
        # origins once a deployment has several nodes.
        response._csp_update = {  # type: ignore[attr-defined]
            "media-src": origins,
            "connect-src": origins,
        }
    return response


def _with_page_facts(contents: QuerySet[Content]) -> QuerySet[Content]:
    return contents.select_related("creator", "creator__user", "price")


def _public_article(request: HttpRequest, content_id: int) -> tuple[str, str] | None:
    """A published content's title and article as every visitor not logged in sees them; None
    for anything else (missing, taken down, not published), which is not kept."""
    content = _with_page_facts(Content.objects.filter(pk=content_id)).first()
    if content is None or content.state not in PUBLISHED:
        return None
    context = _article_context(content, None, is_owner=False)
    return content.title, render_to_string("swarm/_content_article.html", context, request)


def _article_context(content: Content, viewer: User | None, is_owner: bool) -> dict[str, Any]:
    allowed = viewer is not None and access.may_fetch(viewer, content)
    files: list[ContentFile] = list(content.files.all())
    return {
        "title": content.title,
        "content": content,
        "files": files,
        "is_owner": is_owner,
        "published": content.state in PUBLISHED,
        "links": _links(content, viewer) if allowed and viewer is not None else None,
        "price": _price_label(content),
        "open_invoice": (
            open_invoice(viewer, content)
            if viewer is not None and not allowed and content.is_private
            else None
        ),
    }


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
    rental_ends_at: datetime | None = None  # a rental: when its access ends


@dataclass(frozen=True)
class RemovedItem:
    """A content the fan had that staff took down: it stays listed, with the public reason,
    the date, and (for a purchase) the way to ask the creator for the money back."""

    content: Content
    refund: RefundOffer | None  # None: not paid for (a membership's, say): nothing to refund


def removed_items(user: User) -> list[RemovedItem]:
    """What ``user`` held (a live grant) or paid for (a purchase, refunded or not) that was
    taken down, newest takedown first. Nothing here opens a door: ``decide`` refuses it."""
    offers = refund_offers(user)
    held = Q(pk__in=access.granted_content_ids(user)) | Q(pk__in=list(offers))
    contents = (
        Content.objects.filter(state=Content.State.REMOVED)
        .filter(held)
        .exclude(creator__user=user)
        .select_related("creator")
        .order_by("-removed_at", "title", "pk")
    )
    return [RemovedItem(content, offers.get(content.pk)) for content in contents]


@login_required
def library(request: HttpRequest) -> HttpResponse:
    user = _viewer(request)
    assert user is not None  # behind login_required
    page: Page[Content] = Paginator(library_contents(user), LIBRARY_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    items = [_library_item(content, user) for content in page]
    ended_rentals = Content.objects.published().filter(
        pk__in=access.ended_content_ids(user, Grant.Source.RENTAL)
    )
    return render(
        request,
        "swarm/library.html",
        {
            "items": items,
            "page": page,
            "ended_rentals": ended_rentals,
            "removed": removed_items(user),
            "now": clock.now(),
        },
    )


def _library_item(content: Content, user: User) -> LibraryItem:
    own = content.creator.user_id == user.pk
    decision = access.decide(user, content) if not own else None
    rental_ends_at = (
        decision.until if decision is not None and decision.reason == Grant.Source.RENTAL else None
    )
    return LibraryItem(content, _links(content, user), own, rental_ends_at)
