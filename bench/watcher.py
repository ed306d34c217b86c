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
import json
import os
import platform
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BTT_CONTRACT = "TAFjULxiVgT4qWk6UZwjqwZXTSaGaqnVp4"
CREATORS = 10


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def environment(data_dir: Path, database_url: str | None) -> dict[str, str]:
    """Production-like settings on the embedded defaults, in the scratch folder."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        SITE_URL="https://127.0.0.1",
        SECURE_SSL_REDIRECT="false",
        ALLOWED_HOSTS="127.0.0.1",
        BTT_DATA_DIR=str(data_dir),
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
        INVOICE_EXPIRY_SECONDS="7200",
        TRON_NETWORK="devnet",
    )
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


@contextmanager
def scratch_postgres(server: str | None) -> Iterator[str | None]:
    """A database of its own on ``server`` (dropped afterwards), or None for SQLite."""
    if not server:
        yield None
        return
    import psycopg

    name = f"bench_watcher_{secrets.token_hex(4)}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(server)
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with open(log, "wb") as out:
        child = subprocess.Popen(args, cwd=BASE_DIR, env=env, stdout=out, stderr=out)
    try:
        yield child
    finally:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(20)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def wait_until(condition: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


class Node:
    """The devnet's HTTP API, over one keep-alive connection."""

    def __init__(self, url: str) -> None:
        import httpx

        self.url = url
        self.http = httpx.Client(timeout=60)

    def post(self, path: str, **payload: Any) -> Any:
        response = self.http.post(f"{self.url}/{path}", json=payload)
        response.raise_for_status()
        return response.json()

    def answers(self) -> bool:
        try:
            return "block" in self.post("wallet/getnodeinfo")
        except Exception:
            return False

    def mine(self) -> int:
        """Make a block of everything pending; its number."""
        number: int = self.post("devnet/mine", blocks=1)["head"]
        return number

    def head(self) -> int:
        raw = self.post("wallet/getblock", detail=False)["block_header"]["raw_data"]
        number: int = raw.get("number", 0)  # java-tron leaves out a zero
        return number

    def pay(self, address: str, units: int) -> str:
        answer = self.post("devnet/faucet", address=address, token=BTT_CONTRACT, amount=str(units))
        if answer.get("result") is not True:
            raise RuntimeError(f"the faucet refused: {answer}")
        txid: str = answer["txid"]
        return txid


@contextmanager
def devnet(
    data_dir: Path, env: dict[str, str], name: str, block_seconds: float, solidify: int
) -> Iterator[Node]:
    port = free_port()
    args = [PYTHON, "manage.py", "tron_devnet", "--port", str(port),
            "--state", str(data_dir / f"{name}.sqlite3")]  # fmt: skip
    env = {
        **env,
        "TRON_DEVNET_BLOCK_SECONDS": str(block_seconds),
        "TRON_DEVNET_SOLIDIFY_BLOCKS": str(solidify),
    }
    with process(args, env, data_dir / f"{name}.log") as child:
        node = Node(f"http://127.0.0.1:{port}")
        wait_until(lambda: child.poll() is None and node.answers(), 60, f"the {name} devnet")
        yield node


# --- throughput -------------------------------------------------------------------------------


def make_invoices(creators: list[Any], count: int) -> list[Any]:
    from payments import services
    from payments.models import Invoice
    from payments.money import Amount, Token

    price = Amount.parse("100", Token.BTT)
    invoices = []
    for n in range(count):
        invoices.append(
            services.create_invoice(
                kind=Invoice.Kind.TIP, creator=creators[n % len(creators)], amount=price
            )
        )
    return invoices


def fill(node: Node, invoices: list[Any], per_block: int) -> list[int]:
    """One block per ``per_block`` invoices, each paid exactly; the block numbers."""
    blocks = []
    for start in range(0, len(invoices), per_block):
        for invoice in invoices[start : start + per_block]:
            node.pay(invoice.recipient, int(invoice.amount_due))
        blocks.append(node.mine())
    return blocks


def time_node_reads(node: Node, numbers: list[int]) -> float:
    started = time.perf_counter()
    for number in numbers:
        block = node.post("wallet/getblockbynum", num=number, visible=True)
        receipts = node.post("wallet/gettransactioninfobyblocknum", num=number, visible=True)
        if block["block_header"]["raw_data"]["number"] != number or not receipts:
            raise RuntimeError(f"block {number} did not come whole")
    return time.perf_counter() - started


def new_watcher(url: str) -> Any:
    from payments.tron import NodeClient
    from payments.watcher import Watcher

    return Watcher(NodeClient(url), "devnet")


def time_proving(url: str, numbers: list[int], transfers: int) -> float:
    watcher = new_watcher(url)
    started = time.perf_counter()
    for number in numbers:
        scanned = watcher.scan(number)
        if scanned is None or len(scanned.transfers) != transfers:
            raise RuntimeError(f"block {number}: {scanned}")
    elapsed = time.perf_counter() - started
    watcher.node.close()
    return elapsed


def time_watching(url: str, first: int) -> tuple[float, Any]:
    watcher = new_watcher(url)
    watcher.start_from(first)
    started = time.perf_counter()
    watcher.serve(threading.Event(), until_caught_up=True)  # as watch_chain runs it
    return time.perf_counter() - started, watcher.stats


@dataclass
class Round:
    node: float
    prove: float
    watcher: float
    settle: float


def throughput_round(node: Node, creators: list[Any], args: argparse.Namespace) -> Round:
    from payments.models import Invoice

    invoices = make_invoices(creators, args.blocks * args.transfers)
    numbers = fill(node, invoices, args.transfers)
    blocks = len(numbers)
    node_s = time_node_reads(node, numbers)
    prove_s = time_proving(node.url, numbers, args.transfers)
    watch_s, stats = time_watching(node.url, numbers[0])
    ids = [invoice.pk for invoice in invoices]
    processing = Invoice.objects.filter(pk__in=ids, state="processing").count()
    if stats.credited != len(invoices) or processing != len(invoices):
        raise RuntimeError(f"credited {stats.credited}, processing {processing}: {stats}")
    # Solidify the round's blocks, then let the watcher settle their payments.
    node.post("devnet/mine", blocks=args.solidify)
    settle_s, stats = time_watching(node.url, numbers[-1] + 1)
    settled = Invoice.objects.filter(pk__in=ids, state="settled").count()
    if settled != len(invoices):
        raise RuntimeError(f"settled {settled} of {len(invoices)}: {stats}")
    return Round(blocks / node_s, blocks / prove_s, blocks / watch_s, blocks / settle_s)


# --- latency ----------------------------------------------------------------------------------


@dataclass
class Sample:
    payment: float
    processing: float


def session_cookie(user: Any) -> str:
    from django.test import Client

    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


def block_time(node: Node, txid: str) -> float:
    info: dict[str, Any] = {}

    def included() -> bool:
        info.update(node.post("wallet/gettransactioninfobyid", value=txid))
        return "blockTimeStamp" in info

    wait_until(included, 30, f"{txid} in a block")
    stamp: int = info["blockTimeStamp"]
    return stamp / 1000


def latency_sample(
    node: Node, web_port: int, creators: list[Any], cookies: dict[int, str], fillers: int
) -> Sample:
    from websockets.sync.client import connect
    from websockets.typing import Origin

    invoices = make_invoices(creators, fillers + 1)
    timed = invoices[-1]
    # Start right after a block, so that the fillers and the payment share the next one.
    head = node.head()
    wait_until(lambda: node.post("wallet/getblockbynum", num=head + 1) != {}, 30, "a block")
    with connect(
        f"ws://127.0.0.1:{web_port}/ws/invoice/{timed.pk}/",
        additional_headers={"Cookie": cookies[timed.creator_id]},
        origin=Origin(f"http://127.0.0.1:{web_port}"),
    ) as socket_:
        assert json.loads(socket_.recv(timeout=30))["event"] == "snapshot"
        for invoice in invoices[:-1]:
            node.pay(invoice.recipient, int(invoice.amount_due))
        txid = node.pay(timed.recipient, int(timed.amount_due))
        heard: dict[str, float] = {}
        while "processing" not in heard:
            message = json.loads(socket_.recv(timeout=60))
            at = time.time()
            if message["event"] == "payment":
                heard["payment"] = at
            elif message["event"] == "state" and message["state"] == "processing":
                heard["processing"] = at
    made = block_time(node, txid)
    return Sample(heard["payment"] - made, heard["processing"] - made)


class BarePoller:
    """The reference: asks for the next block every ``poll`` seconds, notes when it sees it."""

    def __init__(self, url: str, poll: float = 0.5) -> None:
        self.node = Node(url)
        self.poll = poll
        self.seen: list[float] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        number = self.node.head() + 1
        while not self.stop.is_set():
            block = self.node.post("wallet/getblockbynum", num=number)
            if block:
                stamp = block["block_header"]["raw_data"]["timestamp"] / 1000
                self.seen.append(time.time() - stamp)
                number += 1
                continue
            self.stop.wait(self.poll)


def spread(values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    return (
        f"median {statistics.median(ordered) * 1000:.0f} ms, p90 {p90 * 1000:.0f} ms, "
        f"max {ordered[-1] * 1000:.0f} ms (n={len(ordered)})"
    )


def latency(
    data_dir: Path, env: dict[str, str], creators: list[Any], args: argparse.Namespace
) -> None:
    cookies = {creator.pk: session_cookie(creator.user) for creator in creators}
    web_port = free_port()
    web = [PYTHON, "-m", "uvicorn", "btt_platform.asgi:application", "--host", "127.0.0.1",
           "--port", str(web_port), "--lifespan", "off", "--no-access-log",
           "--log-level", "warning"]  # fmt: skip
    with (
        devnet(data_dir, env, "chain3s", 3.0, 19) as node,
        process(web, env, data_dir / "web.log"),
    ):
        watch = [PYTHON, "manage.py", "watch_chain", "--from-block", str(node.head())]
        watcher_env = {**env, "TRON_API_URL": node.url, "LOG_LEVEL": "INFO"}
        with process(watch, watcher_env, data_dir / "watcher.log") as watcher:
            import httpx

            def web_answers() -> bool:
                try:
                    httpx.get(f"http://127.0.0.1:{web_port}/healthz", timeout=5)
                except httpx.TransportError:
                    return False
                return True

            wait_until(web_answers, 60, "the web process")
            poller = BarePoller(node.url)
            poller.thread.start()
            # Three blocks for the watcher to learn the chain's rhythm.
            start = node.head()
            wait_until(
                lambda: node.post("wallet/getblockbynum", num=start + 3) != {},
                60,
                "three blocks",
            )
            for fillers, label in ((0, "alone in its block"), (99, "last of 100 in its block")):
                samples: list[Sample] = []
                while len(samples) < args.samples:
                    samples.append(latency_sample(node, web_port, creators, cookies, fillers))
                    if watcher.poll() is not None:
                        raise RuntimeError("the watcher exited")
                print(f"  block -> socket, payment {label}:")
                print(f"    'payment'    {spread([s.payment for s in samples])}")
                print(f"    'processing' {spread([s.processing for s in samples])}")
            poller.stop.set()
            poller.thread.join(10)
            print(f"  bare poller every 0.5 s sees the block: {spread(poller.seen)}")
    # What it cost the node (TronGrid counts requests): the watcher logs both when it stops.
    stopped = re.search(
        r"stopped: WatcherStats\(blocks=(\d+).*; (\d+) node requests",
        (data_dir / "watcher.log").read_text(),
    )
    if stopped:
        blocks, requests = int(stopped.group(1)), int(stopped.group(2))
        print(
            f"  the watcher process asked the node {requests} times for {blocks} blocks "
            f"({requests / max(blocks, 1):.1f} per block, settling included)"
        )


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
    with scratch_postgres(args.postgres) as database_url:
        env = environment(data_dir, database_url)
        os.environ.update(env)
        for name in ("DATABASE_URL", "REDIS_URL"):
            if name not in env:
                os.environ.pop(name, None)
        sys.path.insert(0, str(BASE_DIR))
        os.environ["DJANGO_SETTINGS_MODULE"] = "btt_platform.settings"
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        from accounts.models import User
        from btt_platform import embedded
        from creators.models import Creator

        try:
            call_command("migrate", verbosity=0)
            load = os.getloadavg()[0]
            print(
                f"watcher bench: {args.blocks} blocks x {args.transfers} TRC-20 transfers, "
                f"{args.rounds} rounds, {connection.vendor}, {platform.python_version()}, "
                f"{os.cpu_count()} CPUs, load {load:.1f}"
            )
            from tronpy.keys import PrivateKey

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
    main()
