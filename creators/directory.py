"""The home page's creator directory: the same for every visitor, so it is rendered once per
page and kept in the shared cache, and forgotten the moment a listed fact changes.

A page is kept under the directory's current version; saving or deleting a creator, or saving
an account without naming the fields saved (an activation or deactivation goes that way, a log-in
names ``last_login`` only), moves the version on, so every web process renders afresh. Kept pages
also expire after ``KEEP_SECONDS``, which bounds what a change made while Redis was away could
leave behind. Only plain page numbers are kept (a bounded set of keys, whatever a visitor
types); the page is rendered without the cache when Redis cannot be reached.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

import redis
from django.core.paginator import Paginator
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.template.loader import render_to_string

from accounts.models import User
from btt_platform.cache import shared
from creators.models import Creator

log = logging.getLogger(__name__)

# Creators per page: at ten thousand creators one page of every one of them took seconds to
# render and megabytes to send.
PAGE_SIZE = 48
KEEP_SECONDS = 600
_VERSION_KEY = "creators:directory:version"
# Page numbers kept: up to 9999 (a directory of nearly half a million creators).
_MAX_KEPT_DIGITS = 4


def directory_html(number: str | None) -> str:
    """The directory page ``number`` (as ``Paginator.get_page`` reads it), rendered; empty when
    no creator is listed."""
    if number is not None and not (number.isdigit() and len(number) <= _MAX_KEPT_DIGITS):
        return _render(number)
    cache = shared()
    try:
        version = cache.get_or_set(_VERSION_KEY, secrets.token_hex(8), timeout=None)
        key = f"creators:directory:{version}:{number or 1}"
        html: str | None = cache.get(key)
        if html is None:
            html = _render(number)
            cache.set(key, html, KEEP_SECONDS)
    except redis.RedisError as error:
        log.warning("creator directory rendered without the cache: %s", error)
        return _render(number)
    return html


def _render(number: str | None) -> str:
    creators = Creator.objects.filter(user__is_active=True).order_by("display_name", "pk")
    page = Paginator(creators, PAGE_SIZE).get_page(number)
    if not page.object_list:
        return ""
    return render_to_string("creators/directory.html", {"page": page})


def forget() -> None:
    """Every kept directory page is stale from now on."""
    try:
        shared().set(_VERSION_KEY, secrets.token_hex(8), timeout=None)
    except redis.RedisError as error:
        log.warning(
            "creator directory not forgotten (kept pages expire in %ss): %s", KEEP_SECONDS, error
        )


@receiver(post_save, sender=Creator)
@receiver(post_delete, sender=Creator)
def _creator_changed(**kwargs: Any) -> None:
    forget()


@receiver(post_save, sender=User)
def _account_saved(update_fields: frozenset[str] | None = None, **kwargs: Any) -> None:
    if update_fields is None or "is_active" in update_fields:
        forget()
