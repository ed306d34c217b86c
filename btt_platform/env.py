"""Typed readers for configuration that comes from the environment only.

Every setting of the platform is read through these helpers, so a malformed value fails at
start-up with the variable's name in the message instead of surfacing later as a strange error.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_optional(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {raw!r}")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    return value


def env_float(name: str, default: float, *, minimum: float | None = None) -> float:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}") from None
    if value != value:  # NaN
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}")
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_int_list(name: str, default: list[int], *, minimum: int | None = None) -> list[int]:
    """``1,2,3``; the default when unset."""
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return list(default)
    try:
        values = [int(item) for item in env_list(name, [])]
    except ValueError:
        raise ImproperlyConfigured(
            f"{name} must be comma-separated integers, got {raw!r}"
        ) from None
    if minimum is not None and any(value < minimum for value in values):
        raise ImproperlyConfigured(f"{name} values must be at least {minimum}, got {raw!r}")
    return values


def env_int_map(name: str) -> dict[str, int]:
    """``KEY=int,KEY=int`` (e.g. ``BTT=200000000000000000000``); empty when unset."""
    result: dict[str, int] = {}
    for item in env_list(name, []):
        key, sep, raw = item.partition("=")
        try:
            if not sep or not key.strip():
                raise ValueError
            result[key.strip()] = int(raw.strip())
        except ValueError:
            raise ImproperlyConfigured(
                f"{name} must be comma-separated KEY=integer pairs, got {item!r}"
            ) from None
    return result


def env_path(name: str, default: Path) -> Path:
    raw = os.environ.get(name, "").strip()
    return Path(raw).expanduser().resolve() if raw else default
