"""The reference programs of the seeding bench: aria2c (the other seeder and the downloader)
and opentracker (one tracker per side, so a downloader finds one seeder and never both)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import libtorrent as lt

from bench.common import HOST, free_port, running

ARIA2C = shutil.which("aria2c") or "/usr/bin/aria2c"
OPENTRACKER = shutil.which("opentracker") or "/usr/bin/opentracker"


@contextmanager
def opentracker(root: Path, port: int, infohash: str) -> Iterator[None]:
    # opentracker chroots into -d and drops to "nobody": its folder must be world-readable, and
    # the whitelist path is relative to that root. Debian builds it in whitelist mode.
    root.mkdir()
    root.chmod(0o755)
    whitelist = root / "whitelist"
    whitelist.write_text(infohash + "\n")
    whitelist.chmod(0o644)
    args = [OPENTRACKER, "-i", HOST, "-p", str(port), "-P", str(free_port(socket.SOCK_DGRAM)),
            "-w", "/whitelist", "-d", str(root)]  # fmt: skip
    with running(args, root.parent / f"{root.name}.log", own_session=True):
        yield


def seeders_on(tracker_port: int, infohash: str) -> int:
    """The tracker's count of seeders of the torrent (BEP 48 scrape); 0 while it is down."""
    url = f"http://{HOST}:{tracker_port}/scrape?info_hash=" + "".join(
        f"%{b:02X}" for b in bytes.fromhex(infohash)
    )
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:
            decoded = cast(dict[bytes, Any], lt.bdecode(reply.read()))
    except (urllib.error.URLError, ConnectionError):
        return 0
    stats = decoded.get(b"files", {}).get(bytes.fromhex(infohash), {})
    return int(stats.get(b"complete", 0))


def seeder_args(content_dir: Path, tracker_port: int, torrent: Path) -> list[str]:
    """``aria2c --seed-ratio=0`` (seeds forever) after ``--check-integrity``."""
    return [
        ARIA2C, "--no-conf", f"--dir={content_dir}", "--seed-ratio=0",
        "--check-integrity=true", f"--listen-port={free_port()}",
        "--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false",
        "--enable-peer-exchange=false", "--disable-ipv6=true", "--async-dns=false",
        f"--bt-tracker=http://{HOST}:{tracker_port}/announce", "--bt-exclude-tracker=*",
        "--summary-interval=0", "--console-log-level=warn", str(torrent),
    ]  # fmt: skip


def downloader_args(folder: Path, tracker_port: int, torrent: Path) -> list[str]:
    """A fresh download into ``folder`` from whoever ``tracker_port``'s tracker lists."""
    return [
        ARIA2C, "--no-conf", f"--dir={folder}", "--file-allocation=none", "--seed-time=0",
        "--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false",
        "--enable-peer-exchange=false", "--disable-ipv6=true", "--async-dns=false",
        "--bt-max-peers=55", "--max-download-limit=0", "--max-overall-download-limit=0",
        f"--listen-port={free_port()}",
        f"--bt-tracker=http://{HOST}:{tracker_port}/announce", "--bt-exclude-tracker=*",
        "--summary-interval=0", "--console-log-level=warn", str(torrent),
    ]  # fmt: skip


def version() -> str:
    out = subprocess.run([ARIA2C, "--version"], capture_output=True, text=True, check=False)
    return out.stdout.split("\n", 1)[0].removeprefix("aria2 version ").strip()
