"""Every node is a door: which nodes' web seeds a fan's torrent and pages name.

Each engine node serves the web seed of what it holds from the web process beside its data
directory, at its own base URL (``EngineNode.webseed_url``, from ``SWARM_NODE_WEBSEED_URL``;
blank: the site's URL). A torrent lists every holding node, a live node (fresh heartbeat, not
stopped) whose ``NodeSeeding`` row says seeding, in BEP 19's ``url-list``: it lives outside the
info dict, so the infohash is the same whichever nodes are listed, and a client carries on from
the others when one dies. The path and its token are the same on every node.

With no holding node known (no engine up, or a content not reported on yet) the site's own URL
is listed, as a one-node deployment always did.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import timezone

from accounts.models import User
from swarm.models import Content, NodeSeeding
from swarm.webseed.tokens import webseed_path_for


def holding_bases(content: Content) -> list[str]:
    """The web-seed base URLs of the live nodes seeding ``content``, by node name, each once."""
    fresh_since = timezone.now() - timedelta(seconds=settings.SWARM_HEARTBEAT_STALE_SECONDS)
    urls = (
        NodeSeeding.objects.filter(
            content=content,
            state=NodeSeeding.State.SEEDING,
            node__last_heartbeat__gte=fresh_since,
            node__stopped_at__isnull=True,
        )
        .order_by("node__name")
        .values_list("node__webseed_url", flat=True)
    )
    bases = dict.fromkeys((url or settings.SITE_URL).rstrip("/") for url in urls)
    return list(bases) or [settings.SITE_URL]


def webseed_urls_for(user: User | None, content: Content) -> list[str]:
    """``user``'s url-list: one entry per holding node, the one their pages use first.

    Fans are spread over the nodes by account (a browser, or a client that tries the entries
    in order, starts on its own node), and each fan keeps the same node while the set holds.
    """
    bases = holding_bases(content)
    start = (user.pk if user is not None else 0) % len(bases)
    path = webseed_path_for(user, content)
    return [base + path for base in bases[start:] + bases[:start]]


def webseed_url_on_a_node(user: User | None, content: Content) -> str:
    """The one web-seed URL a page uses (players, the browser download): a holding node's."""
    return webseed_urls_for(user, content)[0]


def door_origins(content: Content) -> list[str]:
    """The origins of ``content``'s doors other than the site's own: what a page's
    Content-Security-Policy must let its players and browser downloads fetch from."""
    site = _origin(settings.SITE_URL)
    return [origin for origin in map(_origin, holding_bases(content)) if origin != site]


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
