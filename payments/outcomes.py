"""Invoice outcomes, announced to the apps that sell through invoices.

Payments knows how money moves; what a paid invoice is *for* belongs to whoever sold it: a
purchase grants a content, a tip raises an alert, a pledge counts toward its campaign. Each
selling app registers a handler for its invoice kind in its ``AppConfig.ready``, and payments
announces every outcome to the handlers of the invoice's kind, inside the transaction that
made it (a handler's writes commit or roll back with the outcome). Payments imports no seller.
This is the shape of BTCPay's invoice events consumed by plugins.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from payments.models import Invoice


class Outcome(StrEnum):
    PROCESSING = "processing"  # paid in full in a block, not yet solidified
    SETTLED = "settled"  # paid in full, solidified: final
    INVALID = "invalid"  # the paying transfer left the chain (dropped) or failed
    EXPIRED = "expired"  # not paid in time
    LATE = "late"  # a payment arrived after the invoice expired (kept; the creator may accept it)
    OVER = "over"  # more than due was paid in time


Handler = Callable[["Invoice", Outcome], None]
_handlers: dict[str, list[Handler]] = {}


def listen(kind: str, handler: Handler) -> None:
    """Call ``handler(invoice, outcome)`` for every outcome of invoices of ``kind``."""
    handlers = _handlers.setdefault(kind, [])
    if handler not in handlers:
        handlers.append(handler)


def announce(invoice: Invoice, outcome: Outcome) -> None:
    """Tell the handlers of ``invoice.kind``; called by payments only, in the transaction that
    produced the outcome. A handler that raises rolls the outcome back with it."""
    for handler in _handlers.get(invoice.kind, ()):
        handler(invoice, outcome)
