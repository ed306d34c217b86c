"""ASCII-safe names for the files of a torrent, made from what creators upload.

WebTorrent does not percent-encode the paths it asks a web seed for (libtorrent, Transmission
and aria2 do), so the names in torrents keep to ``[A-Za-z0-9._-]``; the uploaded name is kept
for display.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import PurePosixPath

from swarm.contents import Conflict

# Per path component. With at most 8 levels of folders of 40, a path stays under the 500
# characters of Upload.path and ContentFile.path, deduplication suffix included.
MAX_NAME_LENGTH = 120
MAX_FOLDER_LENGTH = 40
MAX_PATH_DEPTH = 8
# Windows cannot create files with these names, whatever the extension.
_WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL"}
    | {f"COM{i}" for i in range(1, 10)}
    | {f"LPT{i}" for i in range(1, 10)}
)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _clean(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"-{2,}", "-", _UNSAFE.sub("-", ascii_text)).strip("-.")


def safe_component(name: str, fallback: str = "file") -> str:
    """One ASCII-safe path component: accents dropped, anything else unsafe turned into '-'.

    WebTorrent does not percent-encode web-seed paths (libtorrent, Transmission and aria2
    do), so names in torrents keep to ``[A-Za-z0-9._-]``, never start with a dot (no hidden
    files, no '..') and are not Windows device names; the original name is kept for display.
    """
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem.strip():  # no extension, or a dot file
        stem, ext = name, ""
    stem, ext = _clean(stem) or fallback, _clean(ext)[:16]
    if stem.upper() in _WINDOWS_RESERVED:
        stem += "_"
    stem = stem[: MAX_NAME_LENGTH - len(ext) - 1]
    return f"{stem}.{ext}" if ext else stem


def safe_path(name: str) -> str:
    """An uploaded file name, possibly with folders ('/' or '\\'), as an ASCII-safe path."""
    parts = [p for p in re.split(r"[/\\]", name) if p.strip() not in ("", ".", "..")]
    if not parts:
        return safe_component("")
    parts = parts[-MAX_PATH_DEPTH:]
    folders = [
        safe_component(part, "folder")[:MAX_FOLDER_LENGTH].rstrip("-.") or "folder"
        for part in parts[:-1]
    ]
    return "/".join([*folders, safe_component(parts[-1])])


def _folders(path: str) -> list[str]:
    """'a/b/c.txt' -> ['a', 'a/b']"""
    parts = path.split("/")[:-1]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def place(name: str, existing: list[str]) -> str:
    """The ASCII-safe path for an uploaded ``name`` next to the ``existing`` paths of a content.

    Raises Conflict when a folder of the new path is an existing file (a file system cannot
    hold both).
    """
    path = safe_path(name)
    files = {p.lower() for p in existing}
    for folder in _folders(path):
        if folder.lower() in files:
            raise Conflict(f"{folder!r} is a file of this content already; it cannot be a folder.")
    folders = {f.lower() for p in existing for f in _folders(p)}
    return dedupe(path, files | folders)


def dedupe(path: str, taken: set[str]) -> str:
    """``path``, or ``name-2.ext``, ``name-3.ext``... when taken (case-insensitively)."""
    candidate, counter = path, 1
    pure = PurePosixPath(path)
    while candidate.lower() in taken:
        counter += 1
        candidate = str(pure.with_name(f"{pure.stem}-{counter}{pure.suffix}"))
    return candidate
