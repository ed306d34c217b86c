"""Which file a web-seed request may fetch: the URL's token, the content's files, the ledger.

Every torrent lists ``<SITE_URL>/webseed/<content id>/<token>/`` in its ``url-list``; clients
append ``<name>`` (single file) or ``<name>/<file path>`` (bundle), percent-encoded. The token
sits in the path because clients append their paths to the URL, libtorrent's
``ssrf_mitigation`` drops query strings sent to private addresses, and clients carry no cookies:
free content uses the literal ``open``, paid content a signed per-user token.
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
import struct
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.utils.crypto import constant_time_compare, salted_hmac

from accounts.models import User
from btt_platform import clock
from btt_platform.fastpath import AuthCache, in_database
from ledger import access
from swarm import data_dir, revocations
from swarm.models import Content, ContentFile, Passkey
from swarm.services import active_passkey
from swarm.tracker.peers import redis_client

OPEN_TOKEN = "open"  # noqa: S105 - the token of free content: nothing to sign, anyone may fetch

_TOKEN_SALT = "swarm.webseed.token"  # noqa: S105 - a key salt, not a secret
_TOKEN_PAYLOAD = struct.Struct(">QI")  # user id, expiry (unix seconds)
_TOKEN_MAC_BYTES = 16  # HMAC-SHA256 truncated to 128 bits
_TOKEN_BYTES = _TOKEN_PAYLOAD.size + _TOKEN_MAC_BYTES  # 28 bytes: 38 base64url characters


# --- layout -----------------------------------------------------------------------------------


def torrent_paths(content: Content) -> dict[str, ContentFile]:
    """Each file of ``content`` by its path inside the torrent.

    That path is what a client appends to the url-list entry and also where the file lies below
    the save path ``<data dir>/<content id>/``: ``<name>`` for a single-file torrent,
    ``<name>/<file path>`` for a bundle. Like ``Content.is_bundle``, a content with exactly one
    file is a single-file torrent, whatever that file's own path says.
    """
    files = list(content.files.all())
    if len(files) == 1:
        return {content.name: files[0]}
    return {f"{content.name}/{file.path}": file for file in files}


def content_dir(content_id: int) -> Path:
    """The torrent's save path in this node's data directory (``swarm.data_dir``)."""
    return data_dir.content_dir(content_id)


def safe_content_type(relative_path: str) -> str:
    """The type to serve a file as, from its name: media types, or opaque bytes.

    Creators upload anything; an .html or .svg served as such from the site's origin would run
    scripts there. Browsers play, show or download everything else fine as octet-stream.
    """
    guessed = mimetypes.guess_type(relative_path)[0] or ""
    if guessed.startswith(("video/", "audio/")) or guessed in SAFE_IMAGE_TYPES:
        return guessed
    return "application/octet-stream"


SAFE_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "image/avif"})


# --- tokens -----------------------------------------------------------------------------------


def _mac(content_id: int, user_id: int, expires: int, passkey: str) -> bytes:
    # The passkey is part of the key, so rotating it (swarm.services.rotate_passkey) revokes every
    # token the user holds without a table of tokens.
    message = f"{content_id}:{user_id}:{expires}"
    digest = salted_hmac(
        _TOKEN_SALT, message, secret=f"{settings.SECRET_KEY}:{passkey}", algorithm="sha256"
    ).digest()
    return digest[:_TOKEN_MAC_BYTES]


def issue_token(user: User, content: Content, *, now: float | None = None) -> str:
    """A signed token letting ``user`` fetch ``content`` for WEBSEED_TOKEN_TTL_SECONDS."""
    issued = int(now if now is not None else clock.timestamp())
    expires = issued + settings.WEBSEED_TOKEN_TTL_SECONDS
    passkey = active_passkey(user).key
    raw = _TOKEN_PAYLOAD.pack(user.pk, expires) + _mac(content.pk, user.pk, expires, passkey)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def token_user(token: str, content: Content, *, now: float | None = None) -> User | None:
    """The user a token was issued to for ``content``; None when forged, expired or revoked."""
    signed = token_signer(token, content, now=now)
    return None if signed is None else signed[0]


def token_signer(
    token: str, content: Content, *, now: float | None = None
) -> tuple[User, str] | None:
    """The user a token was issued to for ``content`` and the passkey it was signed with; None
    when forged, expired or revoked."""
    if len(token) > 64:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    if len(raw) != _TOKEN_BYTES:
        return None
    user_id, expires = _TOKEN_PAYLOAD.unpack(raw[: _TOKEN_PAYLOAD.size])
    if user_id >= 2**63:  # no such id; the databases' integers are signed 64-bit
        return None
    if expires <= (now if now is not None else clock.timestamp()):
        return None
    passkey = (
        Passkey.objects.filter(user_id=user_id, revoked_at__isnull=True)
        .values_list("key", flat=True)
        .first()
    )
    if passkey is None:
        return None
    expected = _mac(content.pk, user_id, expires, passkey)
    if not constant_time_compare(raw[_TOKEN_PAYLOAD.size :], expected):
        return None
    user = User.objects.filter(pk=user_id).first()
    return None if user is None else (user, passkey)


def webseed_url_for(user: User | None, content: Content) -> str:
    """The url-list entry for ``user`` (None: anonymous) on the site's own URL, ending in '/'.
    Each node's entry is its base URL and this path (``swarm.webseed.doors``)."""
    return settings.SITE_URL + webseed_path_for(user, content)


def webseed_path_for(user: User | None, content: Content) -> str:
    """The path of ``user``'s url-list entries, the same on every node, ending in '/'.

    Free content gets the shared ``open`` token, so everyone's torrent lists the same web seeds;
    paid content a token signed for this user and content (every node checks it with the same
    ``SECRET_KEY``).
    """
    if content.is_private:
        if user is None:
            raise ValueError("paid content has no anonymous web-seed URL")
        token = issue_token(user, content)
    else:
        token = OPEN_TOKEN
    return f"/webseed/{content.pk}/{token}/"


def rate_limit_for(user: User | None, content: Content) -> int:
    """Bytes per second for one response, 0 for unlimited.

    One platform-wide figure for now; the bandwidth market will lift it per user.
    """
    return int(settings.WEBSEED_RATE_LIMIT)


# --- authorisation ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A file a request may fetch."""

    content_id: int
    relative_path: str  # inside the torrent, below the save path
    infohash: str
    private: bool
    rate_limit: int
    content_type: str
    accel_location: str  # X-Accel-Redirect, for production mode
    # The passkey that signed the token it was granted to (None: the open token), checked
    # against revocations on every use of a cached grant.
    passkey: str | None = field(default=None, repr=False)

    @property
    def disk_path(self) -> Path:
        return content_dir(self.content_id) / self.relative_path


def authorise(content_id: str, token: str, path: str) -> Target | int:
    """The file a request names, or the status to refuse it with (403, 404 or 410)."""
    if len(content_id) > 18:  # beyond a 64-bit id: it never existed
        return 404
    content = Content.objects.select_related("creator").filter(pk=int(content_id)).first()
    if content is None:
        return 404
    if content.state == Content.State.REMOVED:
        return 410
    passkey: str | None = None
    if token == OPEN_TOKEN:
        user = None
        if content.is_private:
            return 403
    else:
        signed = token_signer(token, content)
        if signed is None:
            return 403
        user, passkey = signed
    # A door serving the content: a rental's window starts at its first use.
    if not access.decide_for_use(user, content):
        return 403
    # Looked up among the content's own files, never joined onto a filesystem path as sent, so
    # no '..' or absolute path can reach outside the save path. Checked after authorisation so
    # that a stranger cannot probe a paid bundle's file names.
    if path not in torrent_paths(content):
        return 404
    return Target(
        content_id=content.pk,
        relative_path=path,
        infohash=content.infohash or "",
        private=content.is_private,
        rate_limit=rate_limit_for(user, content),
        content_type=safe_content_type(path),
        # nginx decodes the URI before mapping it onto the file system.
        accel_location=quote(f"{settings.WEBSEED_X_ACCEL_PREFIX}{content.pk}/{path}"),
        passkey=passkey,
    )


def auth_cache_seconds() -> float:
    return float(getattr(settings, "WEBSEED_AUTH_CACHE_SECONDS", 1.0))


# A web-seed client sends a request per MiB or so: without a cache every one of them would cost
# the same few queries. Decisions (grants and refusals) are kept WEBSEED_AUTH_CACHE_SECONDS, so a
# revocation, takedown or expiry reaches the web seed within that window.
_decisions: AuthCache[tuple[str, str, str], Target | int] = AuthCache(
    auth_cache_seconds, max_entries=10_000
)


async def authorise_cached(content_id: str, token: str, path: str) -> Target | int:
    """``authorise``, from a decision made at most WEBSEED_AUTH_CACHE_SECONDS ago, unless the
    passkey that signed the token was rotated since (by any web process)."""
    decision = await _decisions.get(
        (content_id, token, path), lambda: in_database(authorise, content_id, token, path)
    )
    # Refusals need no check, nor grants to the open token; a grant signed by a passkey costs
    # one EXISTS, which also covers a decision loaded just before the rotation committed.
    if (
        isinstance(decision, Target)
        and decision.passkey is not None
        and await revocations.recently_revoked(await redis_client(), decision.passkey)
    ):
        return 403
    return decision


def clear_auth_cache() -> None:
    """Forget every decision cached here, as a rotated passkey must: the cache is keyed by
    token, which does not tell whose passkey signed it."""
    _decisions.clear()
