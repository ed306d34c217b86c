"""Chain watcher: blocks per second with 100 transfers each next to the node's own reads of the
same blocks, and the time from a block to the invoice's WebSocket message, in one run.

    .venv/bin/python bench/watcher.py [--blocks 30] [--transfers 100] [--rounds 3]
                                      [--samples 15] [--postgres postgres://USER@HOST:PORT/DB]

Sets up a scratch data folder in /tmp (embedded SQLite and Redis, migrated; with
``--postgres`` a scratch database on that server instead of SQLite, dropped at the end), ten
creators with fresh addresses and anonymous tip invoices of 100 BTT (each a unique amount), and a
devnet process (``manage.py tron_devnet``) that makes blocks only when asked.

Throughput, ``--rounds`` times, each round on blocks and invoices of its own: ``--blocks`` blocks
of ``--transfers`` TRC-20 BTT transfers each, every one paying an invoice exactly (sent by the
devnet's faucet, a signed TriggerSmartContract transfer like any wallet's, then mined), read by

  node      the node's HTTP API alone: ``getblockbynum`` + ``gettransactioninfobyblocknum``
            (visible) per block over one keep-alive connection, JSON decoded; the floor any
            watcher reading this API stands on (the reference)
  prove     the watcher's reading and proving alone (``Watcher.scan``: the same two calls, the
            watched addresses, receipt verification), no crediting
  watcher   the watcher as it runs (``Watcher.run`` in this process, from the round's first
            block to the head): read, prove, credit every transfer (invoice ``processing``), move
            the cursor, publish every change after commit
  settle    then the blocks are solidified (the devnet's solidification lag is set just past the
            round's blocks, so none was solidified while scanned) and the watcher settles the
            round's payments: the solidified blocks read again, each payment verified again,
            ``settled``

and prints blocks/s of each (median of the rounds) and watcher/node.

Latency: a second devnet making a block every 3 s (mainnet's rhythm) and solidifying 19 behind,
the web process (uvicorn, the real ASGI app) and ``manage.py watch_chain`` as processes with the
production defaults. ``--samples`` times: a new invoice, its creator's ``/ws/invoice/<id>/``
socket open, the exact amount sent; the time from the block's timestamp (the devnet stamps a
block with the wall clock as it makes it) to the socket's ``payment`` and ``processing``
messages. Once with the payment alone in its block, once sent last after 99 other invoice
payments into the same block (the watcher pushes a block's messages after its commit, in order,
so this is the slowest message of a full block). For reference, a bare poller asking the node
for the next block every 0.5 s (the watcher's default) notes when it first sees each block.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
from contextlib import suppress
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench.common import production_environment, scratch_postgres  # noqa: E402
from bench.devnet import devnet  # noqa: E402
from bench.watcher_latency import full_block_latency, latency  # noqa: E402
from bench.watcher_throughput import throughput_round  # noqa: E402

CREATORS = 10


def environment(data_dir: Path, database_url: str | None) -> dict[str, str]:
    """Production-like settings on the embedded defaults, in the scratch folder."""
    env = production_environment(data_dir, INVOICE_EXPIRY_SECONDS="7200", TRON_NETWORK="devnet")
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def _ms(values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    return f"{statistics.median(ordered) * 1000:.0f} / {p90 * 1000:.0f} / {ordered[-1] * 1000:.0f}"


GOAL_SECONDS = 1.0


def section(samples: int = 10, transfers: int = 100) -> str:
    """Runs the full-block bench idle and beside ``stress-ng --cpu 2``; its RESULTS.md section."""
    data_dir = Path(tempfile.mkdtemp(prefix="btt-bench-watcher-", dir="/tmp"))
    env = environment(data_dir, None)
    _setup_django(env)
    from django.db import connection

    from btt_platform import embedded

    rows = []
    try:
        creators = make_creators()
        for busy in (False, True):
            results, before, after = full_block_latency(
                data_dir, env, creators, samples, transfers, busy
            )
            rows.append((busy, results, before, after))
    finally:
        connection.close()
        with suppress(Exception):
            embedded.stop(data_dir)
    with suppress(OSError):
        import shutil

        shutil.rmtree(data_dir)
    lines = [
        "## Watcher: a full block to every open page",
        "",
        "`.venv/bin/python bench/watcher.py` (`section()`: "
        f"{samples} blocks of {transfers} payments, idle, then beside `stress-ng --cpu 2`).",
        "",
        "The watcher (`manage.py watch_chain`) and the web process (uvicorn, the real ASGI app)"
        " as processes, production defaults, against a devnet given a block every 3 s by the bench;"
        f" {transfers} new tip invoices of one creator, each with its `/ws/invoice/<id>/` page"
        " open (one WebSocket each, in the bench process), all paid exactly (the devnet's faucet)"
        " while the bench holds the next block back, which it then makes at once, so that all"
        " 100 are in it however slow the faucet is on a busy machine. Figure: when the last"
        " of the pages hears `processing`, from the block's timestamp (the devnet stamps it"
        " with the wall clock as it makes it) and from when a poller asking every 20 ms"
        " first saw the block.",
        "",
        f"Machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, SQLite (WAL),"
        " embedded redis-server; other engineers' work shared the machine (load averages"
        " below, 1/5/15 min).",
        "",
        "| run | load before | load after | block made -> last page (median / p90 / max ms)"
        " | block seen -> last page (median / p90 / max ms) | CPU per block: watcher / web ms"
        " (median) | goal < 1 s after seen |",
        "|---|---|---|---|---|---|---|",
    ]
    met = True
    for busy, results, before, after in rows:
        seen = [r.seen for r in results]
        ok = max(seen) < GOAL_SECONDS
        met = met and ok
        cpu = (
            f"{statistics.median(r.watcher_cpu for r in results) * 1000:.0f} / "
            f"{statistics.median(r.web_cpu for r in results) * 1000:.0f}"
        )
        lines.append(
            f"| {'stress-ng --cpu 2' if busy else 'idle'} | {before} | {after} | "
            f"{_ms([r.made for r in results])} | {_ms(seen)} | {cpu} | "
            f"{'met' if ok else 'missed'} |"
        )
    idle, busy_ = (statistics.median(r.seen for r in row[1]) for row in rows)
    lines += ["", f"Busy / idle (medians, after seen): {busy_ / idle:.2f}.", ""]
    lines.append("Goal met." if met else "Goal missed: see the notes below.")
    return "\n".join(lines) + "\n" + NOTES


NOTES = """
Notes:
- 2026-12-07, on a machine with no other work (load 1.5-2.4 before): the run before the change
  below had the last of 100 pages 933 ms after the block was seen at the median (p90 1.8 s)
  idle, 1.3 s (p90 2.8 s) beside stress-ng, with 280 ms of the web process's CPU per block; the
  run before that (2026-12-06) was on a machine at load 15-20 from other engineers' suites:
  13 s at the median.
- Changed (2026-12-07): an invoice page is authorised when it connects, not again for each
  message (`payments/consumers.py`). An invoice's payer and creator are fixed for its life
  (accounts with invoices are deactivated, never deleted), so the check could not change its
  answer, and it cost a query per page on the web process's one `database_sync_to_async`
  thread: 100 per full block. The web process's CPU per block went from 280 to 30 ms (table
  above).
- Goal still missed, at p90 and beside stress-ng: what is left is the watcher's own CPU, about
  0.4-0.5 s per full block (prove the 100 transfers, credit them in one transaction, publish
  after the commit), with the devnet, the bench's 100 clients and stress-ng on the same 2 CPUs.
  py-spy on `watch_chain` (2026-12-06): 26% of all samples in Django's SQL compiler and query
  construction against 1% in SQLite itself: per credit it is the ORM building about a dozen
  queries. Left to try: match a block's transfers to invoices with one query (by recipient and
  amount) and credit them with bulk writes.
- Earlier changes (2026-12-06): the watcher credits a block through `crediting.record_block`, in
  the block's one transaction with the cursor's move and without a savepoint per transfer; it
  asks once per block whether its transfers were credited before, are claimed or were kept for
  finance; the block's events are published after the commit in one pipelined round trip, in
  order; settling a solidified block goes the same way (`payments/chain/settling.py`).
  Exactly-once holds: a failure on any transfer takes back the whole block, and the next pass
  credits each transfer once (`tests/payments/test_watcher_block_transaction.py`).
"""


def _setup_django(env: dict[str, str]) -> None:
    os.environ.update(env)
    for name in ("DATABASE_URL", "REDIS_URL"):
        if name not in env:
            os.environ.pop(name, None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "btt_platform.settings"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def make_creators() -> list[Any]:
    from tronpy.keys import PrivateKey

    from accounts.models import User
    from creators.models import Creator

    creators = []
    for n in range(CREATORS):
        user = User.objects.create_user(
            username=f"creator{n}", email=f"creator{n}@example.com", password=None
        )
        creators.append(
            Creator.objects.create(
                user=user,
                handle=f"creator{n}",
                display_name=f"Creator {n}",
                payout_address=PrivateKey.random().public_key.to_base58check_address(),
            )
        )
    return creators


# --- main -------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", type=int, default=30)
    parser.add_argument("--transfers", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--samples", type=int, default=15)
    parser.add_argument("--postgres", help="a PostgreSQL server URL to make a scratch DB on")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    args = parser.parse_args()
    # The round's blocks and a few more must stay unsolidified while they are scanned.
    args.solidify = args.blocks + 5

    data_dir = Path(tempfile.mkdtemp(prefix="btt-bench-watcher-", dir="/tmp"))
    with scratch_postgres(args.postgres, prefix="bench_watcher") as database_url:
        env = environment(data_dir, database_url)
        os.environ.update(env)
        for name in ("DATABASE_URL", "REDIS_URL"):
            if name not in env:
                os.environ.pop(name, None)
        os.environ["DJANGO_SETTINGS_MODULE"] = "btt_platform.settings"
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        from btt_platform import embedded

        try:
            call_command("migrate", verbosity=0)
            load = os.getloadavg()[0]
            print(
                f"watcher bench: {args.blocks} blocks x {args.transfers} TRC-20 transfers, "
                f"{args.rounds} rounds, {connection.vendor}, {platform.python_version()}, "
                f"{os.cpu_count()} CPUs, load {load:.1f}"
            )
            creators = make_creators()
            rounds = []
            with devnet(data_dir, env, "mined", 3600, args.solidify) as node:
                for number in range(0 if args.skip_throughput else args.rounds):
                    result = throughput_round(node, creators, args)
                    rounds.append(result)
                    print(
                        f"  round {number + 1}: node {result.node:.1f} blocks/s, prove "
                        f"{result.prove:.1f}, watcher {result.watcher:.1f} "
                        f"({result.watcher * args.transfers:.0f} credits/s), settle "
                        f"{result.settle:.1f}"
                    )
            if rounds:
                median = {
                    name: statistics.median(getattr(r, name) for r in rounds)
                    for name in ("node", "prove", "watcher", "settle")
                }
                print(
                    f"blocks/s (median): node {median['node']:.1f}, prove {median['prove']:.1f}"
                    f", watcher {median['watcher']:.1f}, settle {median['settle']:.1f}; "
                    f"watcher/node {median['watcher'] / median['node']:.2f}, "
                    f"prove/node {median['prove'] / median['node']:.2f}"
                )
            if not args.skip_latency:
                print("latency (3 s blocks, watcher and web as processes):")
                latency(data_dir, env, creators, args)
        finally:
            connection.close()
            if "REDIS_URL" not in env:
                with suppress(Exception):
                    embedded.stop(data_dir)
    with suppress(OSError):
        import shutil

        shutil.rmtree(data_dir)


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main()  # the throughput and single-payment latency runs, with their options
    else:
        print(section())
