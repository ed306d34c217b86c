"""What a tipper types, made safe to keep and to show: one line of visible text, within its
limit, with the creator's blocked words masked.

Escaping is every page's own job (templates autoescape, scripts set ``textContent``); this
module removes what escaping cannot: invisible characters (zero-width spaces, joiners, bidi
overrides that flip the text around them), control characters and runs of white space, so that
a name cannot look empty, look like someone else's or hide a blocked word.

Two invisible characters stay where they are part of an emoji: the zero-width joiner between
two pictographs (👩‍💻, 🏳️‍🌈 are one picture made of several), and the tag characters of a
subdivision flag (🏴 + tags + cancel tag). Anywhere else they are dropped like the rest.

Lengths are counted in UTF-16 code units, the unit a browser's ``maxlength`` counts, so a form
field's limit and this module's agree: whatever the field lets a fan type, cleaned, fits here.
"""

from __future__ import annotations

import re
import unicodedata

# Unicode categories dropped: controls (Cc), format characters (Cf: zero-width space, joiners,
# bidi embeddings and isolates, the BOM, soft hyphen), unassigned (Cn), private use (Co) and
# surrogates (Cs).
_DROPPED = frozenset({"Cc", "Cf", "Cn", "Co", "Cs"})
_SPACES = re.compile(r"\s+")
_ZWJ = "\u200d"
# A subdivision flag (England, Scotland, Wales…): the black flag, tag letters, the cancel tag.
_TAG_FLAG = re.compile("\U0001f3f4[\U000e0020-\U000e007e]{1,30}\U000e007f")
# Characters that continue the emoji before them without being a picture themselves: the
# emoji presentation selector (VS16) and the five skin tones.
_EMOJI_TAIL = frozenset({"\ufe0f", *map(chr, range(0x1F3FB, 0x1F400))})
MAX_BLOCKED_WORDS = 200


class TextRefused(ValueError):
    """Text that is too long once cleaned; the message says so."""


def _pictograph(ch: str) -> bool:
    # Python has no Extended_Pictographic property; emoji are "other symbols" (So), which is
    # close enough to decide whether a joiner joins two pictures rather than two letters.
    return unicodedata.category(ch) == "So"


def _visible(text: str) -> str:
    kept: list[str] = []
    flags = {match.start(): match.end() for match in _TAG_FLAG.finditer(text)}
    index = 0
    while index < len(text):
        ch = text[index]
        if index in flags:  # a whole subdivision flag, tags included
            kept.append(text[index : flags[index]])
            index = flags[index]
            continue
        index += 1
        if ch.isspace():
            # Line and paragraph separators are white space to keep as a space, not to drop.
            kept.append(" ")
        elif ch == _ZWJ:
            before = kept[-1][-1] if kept else ""
            after = text[index] if index < len(text) else ""
            if (before in _EMOJI_TAIL or _pictograph(before or " ")) and _pictograph(after or " "):
                kept.append(ch)
        elif unicodedata.category(ch) not in _DROPPED:
            kept.append(ch)
    return "".join(kept)


def length(text: str) -> int:
    """``text``'s length as a browser's ``maxlength`` counts it: UTF-16 code units (an emoji
    outside the Basic Multilingual Plane counts 2)."""
    return len(text.encode("utf-16-le")) // 2


def clean(text: str, limit: int, what: str) -> str:
    """``text`` as one line of visible characters. Raises TextRefused past ``limit`` (counted
    by ``length``)."""
    visible = _SPACES.sub(" ", _visible(unicodedata.normalize("NFC", text))).strip()
    if length(visible) > limit:
        raise TextRefused(f"The {what} is {length(visible)} characters; at most {limit}.")
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
