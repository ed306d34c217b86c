"""The home page's creator directory: the same for every visitor, so each page of it is
rendered once and kept in the shared cache (``btt_platform.kept``), and forgotten the moment a
listed fact changes.

Saving or deleting a creator, or saving an account without naming the fields saved (an
activation or deactivation goes that way, a log-in names ``last_login`` only), forgets every
kept page. Only plain page numbers are kept (a bounded set of keys, whatever a visitor types).
"""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.template.loader import render_to_string

from accounts.models import User
from btt_platform.kept import Kept
from creators.models import Creator

# Creators per page: at ten thousand creators one page of every one of them took seconds to
# render and megabytes to send.
PAGE_SIZE = 48
KEEP_SECONDS = 600
# Page numbers kept: up to 9999 (a directory of nearly half a million creators).
_MAX_KEPT_DIGITS = 4

_pages: Kept[str] = Kept("creators:directory", KEEP_SECONDS)


def directory_html(number: str | None) -> str:
    """The directory page ``number`` (as ``Paginator.get_page`` reads it), rendered; empty when
    no creator is listed."""
    if number is not None and not (number.isdigit() and len(number) <= _MAX_KEPT_DIGITS):
        return _render(number)
    return _pages.get_or_render(number or "1", lambda: _render(number)) or ""


def _render(number: str | None) -> str:
    creators = Creator.objects.filter(user__is_active=True).order_by("display_name", "pk")
    page = Paginator(creators, PAGE_SIZE).get_page(number)
    if not page.object_list:
        return ""
    return render_to_string("creators/directory.html", {"page": page})


def forget() -> None:
    """Every kept directory page is stale from now on."""
    _pages.forget()


@receiver(post_save, sender=Creator)
@receiver(post_delete, sender=Creator)
def _creator_changed(**kwargs: Any) -> None:
    forget()


@receiver(post_save, sender=User)
def _account_saved(update_fields: frozenset[str] | None = None, **kwargs: Any) -> None:
    if update_fields is None or "is_active" in update_fields:
        forget()
