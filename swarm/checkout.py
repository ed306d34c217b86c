"""The content page's link to a fan's unfinished checkout, and the library's refund offers.

Selling sits above the swarm: the swarm's pages do not import ``purchases``. The purchases app
installs how to find a fan's open purchase invoice for a content (``PurchasesConfig.ready``), as
the ledger's revocation listeners are installed by the apps that need them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from accounts.models import User
    from payments.models import Invoice
    from swarm.models import Content

OpenInvoiceFinder = Callable[["User", "Content"], Optional["Invoice"]]


def _none(viewer: User, content: Content) -> Invoice | None:
    return None


_finder: OpenInvoiceFinder = _none


def find_open_invoices_with(finder: OpenInvoiceFinder) -> None:
    """Install how the content page finds the viewer's open invoice for a content."""
    global _finder
    _finder = finder


def open_invoice(viewer: User, content: Content) -> Invoice | None:
    """The viewer's invoice for ``content`` still to be paid or being proven, if any."""
    return _finder(viewer, content)


# --- refunds of content taken down ------------------------------------------------------------


@dataclass(frozen=True)
class RefundOffer:
    """What the library says of a removed content the fan paid for: ``state`` is "none" (they
    may ask the creator for a refund), "open" (asked, waiting) or "refunded"."""

    state: str
    asked_at: datetime | None = None
    refunded_at: datetime | None = None


RefundOfferFinder = Callable[["User"], Mapping[int, RefundOffer]]


def _no_offers(viewer: User) -> Mapping[int, RefundOffer]:
    return {}


_offers: RefundOfferFinder = _no_offers


def find_refund_offers_with(finder: RefundOfferFinder) -> None:
    """Install how the library learns which removed contents the fan paid for, and their
    refunds."""
    global _offers
    _offers = finder


def refund_offers(viewer: User) -> Mapping[int, RefundOffer]:
    """The contents taken down that ``viewer`` paid for (by content id), with the state of
    their refund; a refunded purchase stays here, so the fan still sees it."""
    return _offers(viewer)
