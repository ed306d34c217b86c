"""Signing deliveries (Stripe's scheme): ``X-BTT-Signature: t=<unix time>,v1=<hex>``, the
HMAC-SHA256 of ``"<t>.<raw body>"`` keyed with the webhook's secret."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time

from payments.models import WebhookDelivery

SIGNATURE_HEADER = "X-BTT-Signature"
DELIVERY_HEADER = "X-BTT-Delivery"
EVENT_HEADER = "X-BTT-Event"
USER_AGENT = "BTT-Creators-Webhooks/1"
SECRET_PREFIX = "whsec_"  # noqa: S105 (a label, not a secret)
SIGNATURE_TOLERANCE_SECONDS = 300


def new_secret() -> str:
    """A new signing secret for a webhook."""
    return SECRET_PREFIX + secrets.token_hex(24)


def body_of(delivery: WebhookDelivery) -> bytes:
    # Sorted keys: PostgreSQL's jsonb does not keep key order, and a retry must send the same
    # bytes as the first attempt.
    return json.dumps(delivery.payload, sort_keys=True, separators=(",", ":")).encode()


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-BTT-Signature`` header value for ``body`` sent at ``timestamp``."""
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_signature(
    secret: str,
    header: str,
    body: bytes,
    *,
    tolerance: int = SIGNATURE_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """What a receiver does: the header's ``v1`` matches, and its ``t`` is recent."""
    fields: dict[str, list[str]] = {}
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        fields.setdefault(key, []).append(value)
    try:
        (raw_timestamp,) = fields.get("t", [])
        timestamp = int(raw_timestamp)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body).rpartition("v1=")[2]
    return any(hmac.compare_digest(expected, given) for given in fields.get("v1", []))
