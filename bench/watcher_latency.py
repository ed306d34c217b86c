"""The watcher bench's latency runs: the web process and ``manage.py watch_chain`` as processes
against a devnet making a block every 3 s, timing a block to the invoice's WebSocket messages;
one payment at a time (``bench/watcher.py`` with options) and a full block to every open page
(``section()``)."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.common import PYTHON, cpu_seconds, free_port, loads, running, spread, wait_until
from bench.devnet import BarePoller, Node, devnet
from bench.watcher_throughput import make_invoices


@dataclass
class Sample:
    payment: float
    processing: float


def wait_for_web(web_port: int) -> None:
    """Until the web process on ``web_port`` answers at all (any status: it is up)."""

    def web_answers() -> bool:
        try:
            httpx.get(f"http://127.0.0.1:{web_port}/healthz", timeout=5)
        except httpx.TransportError:
            return False
        return True

    wait_until(web_answers, 60, "the web process")


def session_cookie(user: Any) -> str:
    from django.test import Client

    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


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
    made = node.block_time(txid)
    return Sample(heard["payment"] - made, heard["processing"] - made)


def latency(
    data_dir: Path, env: dict[str, str], creators: list[Any], args: argparse.Namespace
) -> None:
    cookies = {creator.pk: session_cookie(creator.user) for creator in creators}
    web_port = free_port()
    web = [PYTHON, "-m", "uvicorn", "btt_site.asgi:application", "--host", "127.0.0.1",
           "--port", str(web_port), "--lifespan", "off", "--no-access-log",
           "--log-level", "warning"]  # fmt: skip
    with (
        devnet(data_dir, env, "chain3s", 3.0, 19) as node,
        running(web, data_dir / "web.log", env=env),
    ):
        watch = [PYTHON, "manage.py", "watch_chain", "--from-block", str(node.head())]
        watcher_env = {**env, "TRON_API_URL": node.url, "LOG_LEVEL": "INFO"}
        with running(watch, data_dir / "watcher.log", env=watcher_env) as watcher:
            wait_for_web(web_port)
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


# --- a full block, every page open -------------------------------------------------------------


class SeenPoller(threading.Thread):
    """When each block could first be seen: asks for the next block every 20 ms (far more
    often than any watcher would) and notes the wall clock at which it first answered."""

    def __init__(self, node: Node) -> None:
        super().__init__(daemon=True)
        self.node = Node(node.url)
        self.seen: dict[int, float] = {}
        self.halt = threading.Event()

    def run(self) -> None:
        number = self.node.head() + 1
        while not self.halt.is_set():
            if self.node.post("wallet/getblockbynum", num=number):
                self.seen[number] = time.time()
                number += 1
            else:
                self.halt.wait(0.02)


class Miner(threading.Thread):
    """Makes a block every 3 s (mainnet's rhythm) on a devnet that mines only when asked, and
    holds off while ``paused`` is held: on a busy machine the faucet took longer than a block
    to send 100 payments, which then spread over several blocks."""

    def __init__(self, node: Node, seconds: float = 3.0) -> None:
        super().__init__(daemon=True)
        self.node = Node(node.url)
        self.seconds = seconds
        self.paused = threading.Lock()
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.wait(self.seconds):
            with self.paused:
                self.node.mine()


async def _open_pages(web_port: int, cookie: str, invoices: list[Any]) -> list[Any]:
    from websockets.asyncio.client import connect
    from websockets.typing import Origin

    sockets = []
    for invoice in invoices:
        socket_ = await connect(
            f"ws://127.0.0.1:{web_port}/ws/invoice/{invoice.pk}/",
            additional_headers={"Cookie": cookie},
            origin=Origin(f"http://127.0.0.1:{web_port}"),
            compression=None,
        )
        if json.loads(await socket_.recv())["event"] != "snapshot":
            raise RuntimeError("no snapshot")
        sockets.append(socket_)
    return sockets


async def _until_processing(socket_: Any) -> float:
    while True:
        message = json.loads(await asyncio.wait_for(socket_.recv(), 120))
        if message["event"] == "state" and message["state"] == "processing":
            return time.time()


async def _all_processing(sockets: list[Any]) -> list[float]:
    heard = await asyncio.gather(*(_until_processing(socket_) for socket_ in sockets))
    await asyncio.gather(*(socket_.close() for socket_ in sockets))
    return list(heard)


@dataclass
class FullBlock:
    made: float  # block made -> the last page's ``processing``, seconds
    seen: float  # block first seen -> the same
    watcher_cpu: float  # CPU seconds the watcher process used from the payments to the last page
    web_cpu: float  # the same, the web process


def full_block_sample(
    node: Node,
    miner: Miner,
    pids: tuple[int, int],
    poller: SeenPoller,
    web_port: int,
    creators: list[Any],
    cookies: dict[int, str],
    transfers: int,
) -> FullBlock:
    """``transfers`` new invoices of one creator, each page open on its own socket, all paid
    into one block: (block made -> last page's ``processing``, block first seen -> the same)."""
    invoices = make_invoices(creators[:1], transfers)
    loop = asyncio.new_event_loop()
    try:
        sockets = loop.run_until_complete(_open_pages(web_port, cookies[creators[0].pk], invoices))
        cpu = [cpu_seconds(pid) for pid in pids]
        with miner.paused:  # all of them into one block, made as soon as they are sent
            txids = [node.pay(invoice.recipient, int(invoice.amount_due)) for invoice in invoices]
            node.mine()
        heard = loop.run_until_complete(_all_processing(sockets))
        cpu = [cpu_seconds(pid) - used for pid, used in zip(pids, cpu, strict=True)]
    finally:
        loop.close()
    blocks = {txid: node.post("wallet/gettransactioninfobyid", value=txid) for txid in txids}
    numbers = {info["blockNumber"] for info in blocks.values()}
    if len(numbers) != 1:
        raise SplitBlock(f"the payments landed in blocks {sorted(numbers)}")
    (number,) = numbers
    made = next(iter(blocks.values()))["blockTimeStamp"] / 1000
    last = max(heard)
    return FullBlock(last - made, last - poller.seen[number], cpu[0], cpu[1])


class SplitBlock(Exception):
    pass


def full_block_latency(
    data_dir: Path,
    env: dict[str, str],
    creators: list[Any],
    samples: int,
    transfers: int,
    busy: bool,
) -> tuple[list[FullBlock], str, str]:
    """The watcher (``watch_chain``) and the web process (uvicorn) as processes against a
    devnet making a block every 3 s; ``samples`` full blocks. With ``busy``, ``stress-ng --cpu
    2`` runs beside them throughout. The samples and the load averages before and after."""
    cookies = {creator.pk: session_cookie(creator.user) for creator in creators[:1]}
    web_port = free_port()
    web = [PYTHON, "-m", "uvicorn", "btt_site.asgi:application", "--host", "127.0.0.1",
           "--port", str(web_port), "--lifespan", "off", "--no-access-log",
           "--log-level", "warning"]  # fmt: skip
    name = "busy" if busy else "idle"
    with ExitStack() as stack:
        before = loads()
        if busy:
            stack.enter_context(stressed(data_dir))
        node = stack.enter_context(devnet(data_dir, env, f"full-{name}", 3600, 19))
        miner = Miner(node)
        miner.start()
        stack.callback(miner.halt.set)
        web_pid = stack.enter_context(running(web, data_dir / f"web-{name}.log", env=env)).pid
        watch = [PYTHON, "manage.py", "watch_chain", "--from-block", str(node.head())]
        watcher_env = {**env, "TRON_API_URL": node.url}
        watcher = stack.enter_context(
            running(watch, data_dir / f"watcher-{name}.log", env=watcher_env)
        )
        wait_for_web(web_port)
        poller = SeenPoller(node)
        poller.start()
        start = node.head()
        wait_until(
            lambda: node.post("wallet/getblockbynum", num=start + 3) != {}, 60, "three blocks"
        )
        results: list[FullBlock] = []
        tries = 0
        while len(results) < samples:
            tries += 1
            if tries > samples * 3:
                raise RuntimeError("the payments kept landing in two blocks")
            try:
                pids = (watcher.pid, web_pid)
                sample = full_block_sample(
                    node, miner, pids, poller, web_port, creators, cookies, transfers
                )
                results.append(sample)
            except SplitBlock as split:
                print(f"  ({split}; sample taken again)", file=sys.stderr)
            if watcher.poll() is not None:
                raise RuntimeError("the watcher exited")
        poller.halt.set()
        after = loads()
    return results, before, after


@contextmanager
def stressed(data_dir: Path) -> Iterator[None]:
    """``stress-ng --cpu 2`` beside the bench (bench/common.py has no such helper yet), warmed
    up for 20 s so that the load average has risen toward it."""
    with running(["stress-ng", "--cpu", "2", "--timeout", "0"], data_dir / "stress.log"):
        time.sleep(20)
        yield
