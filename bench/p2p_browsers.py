"""Browsers sharing a paid item over WebRTC against the web seed alone, in one run.

    .venv/bin/python bench/p2p_browsers.py [--size-mib 16] [--rate-kib 256] [--viewers 1 3 6]
                                           [--stagger 0 3]

Sets up a scratch data folder in /tmp (embedded SQLite and Redis, migrated, static files
collected), the real ASGI application under uvicorn in a thread (tests/fixtures/servers.py, as
the browser tests run it), one paid item of ``--size-mib`` incompressible bytes published
through the upload code, and for every round fresh accounts, each granted the item. The web
seed is throttled to ``--rate-kib`` KiB/s per response (WEBSEED_RATE_LIMIT is per response, not
per server: the web-seed-only client keeps 4 Range requests open, so about 1 MiB/s a page at
the default; WebTorrent has as many as it keeps in flight to the web seed).

For each ``--stagger`` (seconds between one page's click and the next's: 0, all at once; 3, a
page joins while the earlier ones are still downloading, as in the P2P browser test) and each
N in ``--viewers``, two rounds back to back (order swapped every other pair):

  p2p on   N Chromium pages, each its own browser context and account with P2P chosen for paid
           items: WebTorrent with the web seed plus the other pages over WebRTC through the
           WebSocket tracker (/ws/announce/<passkey>).
  p2p off  N pages whose accounts turned P2P off: the web seed alone.

A round's time runs from just before the first click to the last page's panel reaching
``done`` (checked every 50 ms); the mean page time from each page's own click. Bytes from peers
and from the web seed are what each page reports on its panel (data-peer-bytes,
data-webseed-bytes; the web-seed-only panel counts none, so all its bytes are the seed's);
every saved file is checked against the upload's SHA-256. As in tests/swarm/test_p2p_browser.py,
Chromium runs in a network namespace joined to this machine by a veth pair
(tests/fixtures/netns.py), with the site on the pair's host end and mDNS host candidates off: its
pages meet each other over the pair, never over this machine's outside interface. Prints per
round: the time, the mean page time, the share of bytes from peers, and the ratio p2p on / p2p
off of the round times (below 1: P2P faster).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench.common import loads, section_from_output, write_file  # noqa: E402

if TYPE_CHECKING:
    from playwright.sync_api import Download, Page

    from accounts.models import User
    from swarm.models import Content
    from tests.fixtures.browser import Chromium

COMMAND = ".venv/bin/python bench/p2p_browsers.py"
# Hang guard only: a round that takes this long is reported as failed.
ROUND_TIMEOUT_S = 240.0


@dataclass
class Round:
    viewers: int
    p2p: bool
    stagger: float  # seconds between one page's click and the next's
    seconds: float  # first click to the last page done
    page_seconds: list[float]
    peer_bytes: int
    webseed_bytes: int
    identical: int  # pages whose saved file matched the upload
    load: float  # 1-minute load average before the round

    @property
    def peer_share(self) -> float:
        total = self.peer_bytes + self.webseed_bytes
        return self.peer_bytes / total if total else 0.0


@contextmanager
def scratch_django(data_dir: Path) -> Iterator[None]:
    """Django on a scratch data folder (its own SQLite file and embedded Redis), migrated and
    its static files collected, with the test suite's settings for a live server."""
    for name in ("DATABASE_URL", "REDIS_URL", "STATIC_ROOT", "MEDIA_ROOT"):
        os.environ.pop(name, None)
    os.environ.update(
        DEBUG="true",
        DJANGO_SETTINGS_MODULE="btt_platform.settings",
        BTT_DATA_DIR=str(data_dir),
        LOG_LEVEL="WARNING",
        CLOCK_OFFSET_FILE=str(data_dir / "clock-offset"),
    )
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connections

    from btt_platform import embedded

    try:
        call_command("migrate", verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        settings.DEBUG = False  # as under pytest-django: the hashed static files of production
        settings.RATELIMIT_ENABLE = False
        yield
    finally:
        connections.close_all()
        with suppress(Exception):
            embedded.stop(data_dir)


def publish_item(size: int, data_dir: Path) -> tuple[Content, str]:
    """A paid item of ``size`` random bytes through the upload code, hashed in this process."""
    from btt_platform.celery import app as celery_app
    from creators.models import Creator
    from swarm import publishing
    from swarm.models import Content
    from tests.fixtures.content import uploaded
    from tests.fixtures.personas import TRON_ADDRESS, make_user

    source = data_dir / "item.bin"
    write_file(source, size)
    data = source.read_bytes()
    user = make_user("maker")
    creator = Creator.objects.create(
        user=user, handle="maker", display_name="The Maker", payout_address=TRON_ADDRESS
    )
    celery_app.conf.task_always_eager = True
    content = uploaded(creator, {"film.bin": data}, title="Film", access=Content.Access.PAID)
    publishing.publish_content(creator.user, content.pk)
    content.refresh_from_db()
    if content.state != Content.State.SEEDING:
        raise RuntimeError(f"publishing failed: {content.state_detail}")
    return content, hashlib.sha256(data).hexdigest()


def viewers_for(content: Content, label: str, count: int, *, p2p: bool) -> list[User]:
    """``count`` new accounts, each granted ``content``, P2P chosen (or off) for paid items."""
    from ledger import services as ledger
    from ledger.models import Grant
    from swarm import peer_sharing
    from tests.fixtures.personas import make_user

    users = []
    for number in range(count):
        user = make_user(f"{label}v{number}")
        ledger.grant(user, content, Grant.Source.PURCHASE)
        peer_sharing.set_preference(user, enabled=p2p, paid=p2p)
        users.append(user)
    return users


def collect_downloads(page: Page) -> list[Download]:
    """The files the page saves from now on, as they come."""
    saved: list[Download] = []
    page.on("download", lambda download: saved.append(download))
    return saved


def run_round(
    chromium: Chromium,
    url: str,
    content: Content,
    users: list[User],
    digest: str,
    *,
    p2p: bool,
    stagger: float,
) -> Round:
    from tests.fixtures.browser import save_download

    load = os.getloadavg()[0]
    pages: list[Page] = []
    downloads: list[list[Download]] = []
    try:
        for user in users:
            page = chromium.open(url, user)
            page.goto(f"/content/{content.pk}/")
            pages.append(page)
            downloads.append(collect_downloads(page))
        buttons = [
            page.locator("[data-webseed-download]").get_by_role("button", name="Download")
            for page in pages
        ]
        for button in buttons:
            button.wait_for()
        began = time.monotonic()
        clicked: list[float] = []
        for index, button in enumerate(buttons):
            wait_ms = (began + index * stagger - time.monotonic()) * 1000
            if wait_ms > 0:
                pages[0].wait_for_timeout(wait_ms)
            clicked.append(time.monotonic())
            button.click()
        finished: dict[int, float] = {}
        own: dict[int, float] = {}  # from the page's own click
        while len(finished) < len(pages):
            if time.monotonic() - began > ROUND_TIMEOUT_S:
                raise RuntimeError(f"{len(pages) - len(finished)} pages not done in time")
            for index, page in enumerate(pages):
                if index in finished:
                    continue
                state = page.locator("[data-webseed-download]").get_attribute("data-state")
                if state == "done":
                    finished[index] = time.monotonic() - began
                    own[index] = time.monotonic() - clicked[index]
                elif state in ("error", "failed"):
                    raise RuntimeError(f"page {index} ended in state {state}")
            pages[0].wait_for_timeout(50)  # Playwright delivers events while the thread waits
        peer_bytes = webseed_bytes = identical = 0
        folder = Path(tempfile.mkdtemp(prefix="p2p-saved-", dir="/tmp"))
        try:
            for index, page in enumerate(pages):
                panel = page.locator("[data-webseed-download]")
                peer_bytes += int(panel.get_attribute("data-peer-bytes") or 0)
                webseed_bytes += int(panel.get_attribute("data-webseed-bytes") or 0)
                deadline = time.monotonic() + 60
                while not downloads[index] and time.monotonic() < deadline:
                    page.wait_for_timeout(50)
                if downloads[index]:
                    path = save_download(downloads[index][0], folder / str(index))
                    identical += hashlib.sha256(path.read_bytes()).hexdigest() == digest
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        if not p2p and webseed_bytes == 0:
            # The web-seed-only panel may not count its bytes: all of them came from the seed.
            webseed_bytes = identical * content.total_size
        seconds = max(finished.values())
        return Round(len(users), p2p, stagger, seconds, sorted(own.values()), peer_bytes,
                     webseed_bytes, identical, load)  # fmt: skip
    finally:
        for page in pages:
            with suppress(Exception):
                page.context.close()


def measure(size: int, rate: int, counts: Sequence[int], staggers: Sequence[float]) -> list[Round]:
    data_dir = Path(tempfile.mkdtemp(prefix="btt-bench-p2p-", dir="/tmp"))
    rounds: list[Round] = []
    try:
        with ExitStack() as stack:
            stack.enter_context(scratch_django(data_dir))
            from django.conf import settings

            from btt_platform import fastpath
            from tests.fixtures.browser import Chromium, outside_browser_loop
            from tests.fixtures.downloads import P2P_SWITCHES
            from tests.fixtures.netns import veth_namespace
            from tests.fixtures.servers import serving
            from tests.fixtures.webrtc_peers import allowed_host, chromium_on_peer_network

            settings.CONTENT_ROOT = data_dir / "content"
            settings.UPLOAD_ROOT = data_dir / "uploads"
            settings.WEBSEED_X_ACCEL = False
            settings.WEBSEED_RATE_LIMIT = 0
            network = stack.enter_context(veth_namespace())
            server = stack.enter_context(serving(host=network.host_address))
            stack.enter_context(allowed_host(network.host_address))
            settings.SITE_URL = server.url
            fastpath.clear()
            content, digest = publish_item(size, data_dir)
            settings.WEBSEED_RATE_LIMIT = rate
            plan: list[tuple[float, int, bool]] = []
            for stagger in staggers:
                for count in counts:
                    order = (True, False) if len(plan) % 4 == 0 else (False, True)
                    plan += [(stagger, count, p2p) for p2p in order]
            accounts = [
                viewers_for(content, f"r{n}", count, p2p=p2p)
                for n, (_, count, p2p) in enumerate(plan)
            ]
            chromium = Chromium()
            chromium.launch_args.extend(P2P_SWITCHES)
            chromium_on_peer_network(chromium, network, server.url, data_dir)
            stack.callback(chromium.close)
            for (stagger, _, p2p), users in zip(plan, accounts, strict=True):
                done = run_round(
                    chromium, server.url, content, users, digest, p2p=p2p, stagger=stagger
                )
                rounds.append(done)
                print(row_text(done), file=sys.stderr, flush=True)
            for error in chromium.console_errors()[:20]:
                print(f"  console: {error}", file=sys.stderr)
            with outside_browser_loop():
                fastpath.clear()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    return rounds


def row_text(row: Round) -> str:
    mean = statistics.mean(row.page_seconds)
    return (
        f"  {row.stagger:g} s apart  N={row.viewers}  p2p {'on ' if row.p2p else 'off'}"
        f"  {row.seconds:6.1f} s"
        f" (mean page {mean:5.1f} s)  from peers {row.peer_share * 100:5.1f} %"
        f"  [{row.peer_bytes / 2**20:.1f} MiB peers, {row.webseed_bytes / 2**20:.1f} MiB seed]"
        f"  files identical {row.identical}/{row.viewers}  load {row.load:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=16)
    parser.add_argument("--rate-kib", type=int, default=256, help="web seed, per response")
    parser.add_argument("--viewers", type=int, nargs="+", default=[1, 3, 6])
    parser.add_argument(
        "--stagger", type=float, nargs="+", default=[0.0, 3.0], help="seconds between clicks"
    )
    args = parser.parse_args()
    size, rate = args.size_mib * 2**20, args.rate_kib * 1024
    print(
        f"item {args.size_mib} MiB (paid), web seed {args.rate_kib} KiB/s per response,"
        f" Chromium {', '.join(map(str, args.viewers))} pages; load before {loads()}"
    )
    began = time.monotonic()
    rounds = measure(size, rate, args.viewers, args.stagger)
    for row in rounds:
        print(row_text(row))
    print("  ratios p2p on / p2p off (round time; below 1: P2P faster):")
    for on, off in zip(rounds[0::2], rounds[1::2], strict=True):
        if not on.p2p:
            on, off = off, on
        print(
            f"    {on.stagger:g} s apart, N={on.viewers}: {on.seconds / off.seconds:.2f}x"
            f"  (peers' share {on.peer_share * 100:.0f} % on, {off.peer_share * 100:.0f} % off)"
        )
    print(f"  whole run {time.monotonic() - began:.0f} s; load after {loads()}")


def section(argv: Sequence[str] = ()) -> str:
    """Runs the bench (its defaults unless ``argv``); the section quotes what it prints."""
    return section_from_output("P2P browsers", COMMAND, __doc__ or "", main, argv)


if __name__ == "__main__":
    print(section(sys.argv[1:]))
