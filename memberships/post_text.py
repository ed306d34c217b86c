"""A post's text as HTML: plain text with a little Markdown (paragraphs, line breaks, **bold**,
*italic*, `code`, and http(s) links), everything escaped first. Nothing the creator types ever
reaches the page as markup: the few tags come from this module, around already-escaped text."""

from __future__ import annotations

import re

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

_CODE = re.compile(r"`([^`\n]+)`")
_BOLD = re.compile(r"\*\*([^*\n]+)\*\*")
_ITALIC = re.compile(r"(?<![*\w])\*([^*\n]+)\*(?![*\w])")
# Escaped text: '&' is '&amp;', quotes are '&quot;'/'&#x27;', so a URL ends at a space or '<'.
_LINK = re.compile(r"\bhttps?://[^\s<]+[^\s<.,;:!?)&]")


def _inline(escaped: str) -> str:
    parts = _CODE.split(escaped)
    # Odd parts were inside backticks: shown as code, with no further markup inside.
    for index, part in enumerate(parts):
        if index % 2:
            parts[index] = f"<code>{part}</code>"
            continue
        part = _LINK.sub(
            lambda m: f'<a href="{m.group(0)}" rel="nofollow noopener ugc">{m.group(0)}</a>',
            part,
        )
        part = _BOLD.sub(r"<strong>\1</strong>", part)
        parts[index] = _ITALIC.sub(r"<em>\1</em>", part)
    return "".join(parts)


def render(text: str) -> SafeString:
    paragraphs = [p for p in re.split(r"\n\s*\n", text.replace("\r\n", "\n")) if p.strip()]
    html = "".join(
        "<p>" + "<br>".join(_inline(escape(line)) for line in p.strip().split("\n")) + "</p>"
        for p in paragraphs
    )
    return mark_safe(html)  # noqa: S308 - built from escaped text above


def excerpt(text: str, length: int = 160) -> str:
    """Plain text for a listing of readable posts (escaped by the template)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= length else flat[: length - 1].rstrip() + "…"
