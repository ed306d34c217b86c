"""What tips push to sockets: alerts to a creator's overlay and live page, the goal, and the
overlay being locked out when its key is rotated. Typed payloads, amounts as strings."""

from __future__ import annotations

import hashlib
from typing import Literal, TypedDict

from btt_platform.broadcast import broadcast
from support.models import Alert, TipSettings


def overlay_group(overlay_key: str) -> str:
    # Named after the key, not the creator: once the key is rotated nothing is sent to the
    # old group any more, even if the message telling old overlays to close were lost.
    return "overlay." + hashlib.sha256(overlay_key.encode()).hexdigest()[:40]


def live_group(creator_id: int) -> str:
    return f"live.{creator_id}"


class GoalPayload(TypedDict):
    title: str
    token: str
    goal: str  # decimal; "0": no goal
    raised: str


class AlertPayload(TypedDict):
    type: Literal["alert"]
    seq: int
    test: bool
    name: str
    message: str
    token: str
    amount: str  # decimal, exact
    units: str
    tier: int
    created_at: str
    withdrawn: bool  # its payment left the chain: not to be shown (a replay still numbers it)
    goal: GoalPayload


class WithdrawnPayload(TypedDict):
    type: Literal["withdrawn"]
    seq: int
    goal: GoalPayload


class RevokedPayload(TypedDict):
    type: Literal["revoked"]


class LivePayload(TypedDict):
    type: Literal["live"]
    live: bool
    title: str


def goal_payload(settings: TipSettings) -> GoalPayload:
    return {
        "title": settings.goal_title,
        "token": settings.token,
        "goal": settings.goal.decimal_string(),
        "raised": settings.goal_raised.decimal_string(),
    }


def alert_payload(alert: Alert, settings: TipSettings) -> AlertPayload:
    return {
        "type": "alert",
        "seq": alert.seq,
        "test": alert.test,
        "name": alert.name,
        "message": alert.message,
        "token": alert.token,
        "amount": alert.amount.decimal_string(),
        "units": str(alert.units),
        "tier": alert.tier,
        "created_at": alert.created_at.isoformat(),
        "withdrawn": alert.withdrawn_at is not None,
        "goal": goal_payload(settings),
    }


def send_alert(alert: Alert, settings: TipSettings) -> None:
    """To the creator's overlay, and (a real tip) to their live page, after commit."""
    payload = alert_payload(alert, settings)
    broadcast(overlay_group(settings.overlay_key), payload)
    if not alert.test:
        broadcast(live_group(settings.creator_id), payload)


def send_withdrawn(alert: Alert, settings: TipSettings) -> None:
    """A tip's payment left the chain: its alert is not to be shown, the goal goes down."""
    payload: WithdrawnPayload = {
        "type": "withdrawn",
        "seq": alert.seq,
        "goal": goal_payload(settings),
    }
    broadcast(overlay_group(settings.overlay_key), payload)
    broadcast(live_group(settings.creator_id), payload)


def send_revoked(old_key: str) -> None:
    revoked: RevokedPayload = {"type": "revoked"}
    broadcast(overlay_group(old_key), revoked)


def send_live_state(creator_id: int, live: bool, title: str) -> None:
    payload: LivePayload = {"type": "live", "live": live, "title": title}
    broadcast(live_group(creator_id), payload)


class GoalUpdate(TypedDict):
    type: Literal["goal"]
    goal: GoalPayload


def send_goal(settings: TipSettings) -> None:
    update: GoalUpdate = {"type": "goal", "goal": goal_payload(settings)}
    broadcast(overlay_group(settings.overlay_key), update)
    broadcast(live_group(settings.creator_id), update)
