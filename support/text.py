"""What a tipper types, made safe to keep and to show: one line of visible text, within its
limit, with the creator's blocked words masked.

Escaping is every page's own job (templates autoescape, scripts set ``textContent``); this
module removes what escaping cannot: invisible characters (zero-width spaces, joiners, bidi
overrides that flip the text around them), control characters and runs of white space, so that
a name cannot look empty, look like someone else's or hide a blocked word.
"""

from __future__ import annotations

import re
import unicodedata

# Unicode categories dropped: controls (Cc), format characters (Cf: zero-width space, joiners,
# bidi embeddings and isolates, the BOM, soft hyphen), unassigned (Cn), private use (Co) and
# surrogates (Cs).
_DROPPED = frozenset({"Cc", "Cf", "Cn", "Co", "Cs"})
_SPACES = re.compile(r"\s+")
MAX_BLOCKED_WORDS = 200


class TextRefused(ValueError):
    """Text that is too long once cleaned; the message says so."""


def clean(text: str, limit: int, what: str) -> str:
    """``text`` as one line of visible characters. Raises TextRefused past ``limit``."""
    text = unicodedata.normalize("NFC", text)
    # Line and paragraph separators are white space to keep as a space, not to drop.
    visible = "".join(
        " " if ch.isspace() else ch
        for ch in text
        if ch.isspace() or unicodedata.category(ch) not in _DROPPED
    )
    visible = _SPACES.sub(" ", visible).strip()
    if len(visible) > limit:
        raise TextRefused(f"The {what} is {len(visible)} characters; at most {limit}.")
    return visible


def blocked_words(text: str) -> list[str]:
    """The creator's filter, one word or phrase a line, cleaned; empty lines ignored."""
    words = []
    for line in text.splitlines():
        word = clean(line, 100, "blocked word").casefold()
        if word and word not in words:
            words.append(word)
    return words[:MAX_BLOCKED_WORDS]


def mask(text: str, words: list[str]) -> str:
    """``text`` with every blocked word (case-insensitive, at word edges) turned to asterisks
    of the same length."""
    for word in words:
        pattern = re.compile(rf"(?<!\w){re.escape(word)}(?!\w)", re.IGNORECASE)
        text = pattern.sub(lambda match: "*" * len(match.group(0)), text)
    return text
