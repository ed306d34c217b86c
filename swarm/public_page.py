"""A published content's page as visitors who are not logged in see it: the same for all of
them, so its article is rendered once and kept (``btt_platform.kept``), and forgotten when a fact
it shows changes.

What it shows: the content's own fields (``SHOWN``), its files, its price, its creator's name and
handle, the creator's smallest tip and live session. A write of any of them forgets every kept
page: saves and deletes through the signals below, and a content's conditional UPDATEs through
``ContentQuerySet.update``, which calls ``content_written``. Writes that change nothing shown
forget nothing: the engine's swarm numbers every few seconds, hashing progress, and a tip moving
a goal. The page's swarm line is kept current by its socket from the first second (a kept page
may say "shared by other fans" up to ``KEEP_SECONDS`` late before it does).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.db.models.signals import post_delete, post_save

from btt_platform.kept import Kept

# Short: it bounds what a write that no signal reports (a bulk UPDATE of another app's rows)
# could leave behind, and a busy page is asked for many times a second.
KEEP_SECONDS = 60

# Per model, the fields the page shows; None: all of them.
SHOWN: dict[str, frozenset[str] | None] = {
    "swarm.Content": frozenset(
        {
            "creator",
            "title",
            "description",
            "access",
            "cover",
            "state",
            "total_size",
            "published_at",
            "name",
        }
    ),
    "swarm.ContentFile": None,
    "payments.ContentPrice": None,
    "creators.Creator": frozenset({"handle", "display_name"}),
    "support.TipSettings": frozenset({"token", "minimum_units"}),
    "support.LiveSession": None,
}

articles: Kept[tuple[str, str]] = Kept("swarm:content-page", KEEP_SECONDS)


def content_written(fields: Iterable[str]) -> None:
    """Contents' ``fields`` were written (an UPDATE)."""
    if _shows("swarm.Content", fields):
        articles.forget()


def _shows(model: str, fields: Iterable[str] | None) -> bool:
    shown = SHOWN[model]
    return fields is None or shown is None or not shown.isdisjoint(fields)


def _saved(model: str) -> Callable[..., None]:
    def saved(update_fields: frozenset[str] | None = None, **kwargs: Any) -> None:
        if _shows(model, update_fields):
            articles.forget()

    return saved


def _deleted(**kwargs: Any) -> None:
    articles.forget()


for _model in SHOWN:
    # Senders named by label: this module needs none of those apps' models to load first.
    post_save.connect(_saved(_model), sender=_model, weak=False, dispatch_uid=f"page:{_model}")
    post_delete.connect(_deleted, sender=_model, dispatch_uid=f"page-gone:{_model}")
