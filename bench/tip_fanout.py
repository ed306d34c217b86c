"""Tip alert fan-out: from a tip invoice's state change to the alert on N overlay sockets, beside
Channels' own Redis pub/sub layer and a bare Redis pub/sub relay doing the same fan-out, in one
run.

    .venv/bin/python bench/tip_fanout.py            # section(): 1,000 and 5,000, idle and busy
    .venv/bin/python bench/tip_fanout.py [--subscribers 1000 5000] [--samples 10] [--busy]
                                         [--redis redis://HOST:PORT/DB]

Sets up a scratch data folder in /tmp (embedded SQLite, migrated; the embedded Redis, a real
redis-server, unless ``--redis`` names one), a creator with tip settings and a tip invoice per
sample. For each subscriber count, in turn:

  ours       the web process (uvicorn, the real ASGI app, production settings) and N WebSocket
             clients on the creator's ``/ws/overlay/<key>/``. A sample: this process moves a
             tip's invoice ``new -> processing`` (``payments.invoices.move_invoice``, which
             raises the alert in its transaction and publishes it after commit; the web
             process's broadcast hub relays it to every local overlay socket); the time from
             just before that call to each client's receipt of the alert.
  layer      Channels' own ``channels_redis.pubsub.RedisPubSubChannelLayer`` under uvicorn
             (``bench/fanout_layer.py``: a consumer in a group, one handler), N clients; the
             time from just before ``group_send``.
  reference  a bare relay process (``--serve-reference``: the ``websockets`` library's server,
             one Redis pub/sub subscription, ``websockets.broadcast`` of each message to every
             connection) and N clients on it; the time from just before a PUBLISH. The least
             any design relaying through Redis to sockets pays.

Clients run in two processes of their own (``bench/fanout_clients.py``: the ``websockets``
sans-I/O protocol on bare asyncio connections, no compression, no pings), so the figure is the
server's and all three columns carry the same client cost. Prints p50 and p99 of every receipt
of every sample. With ``--busy`` (and in ``section()``'s second half) ``stress-ng --cpu 2`` runs
beside.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench.common import production_environment  # noqa: E402
from bench.fanout_clients import ClientProcesses  # noqa: E402

PYTHON = sys.executable
CHANNEL = "bench-fanout"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def environment(data_dir: Path, redis_url: str | None) -> dict[str, str]:
    env = production_environment(
        data_dir,
        INVOICE_EXPIRY_SECONDS="7200",
        BROADCAST_PREFIX=f"bench{secrets.token_hex(3)}",
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


@contextmanager
def process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with open(log, "wb") as out:
        child = subprocess.Popen(args, cwd=BASE_DIR, env=env, stdout=out, stderr=out)
    try:
        yield child
    finally:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def wait_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing answers on port {port}")


# --- the reference relay (its own process) ----------------------------------------------------


async def serve_reference(port: int, redis_url: str) -> None:
    import redis.asyncio as redis
    from websockets.asyncio.server import broadcast, serve

    connections: set[Any] = set()

    async def handler(connection: Any) -> None:
        connections.add(connection)
        try:
            await connection.wait_closed()
        finally:
            connections.discard(connection)

    client = redis.from_url(redis_url)
    pubsub = client.pubsub()
    await pubsub.subscribe(CHANNEL)
    async with serve(handler, "127.0.0.1", port, compression=None, ping_interval=None):
        async for message in pubsub.listen():
            if message["type"] == "message":
                broadcast(connections, message["data"].decode())


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def run_ours(port: int, key: str, tips: list[Any], count: int) -> list[float]:
    from django.db import connection

    from payments.invoices import move_invoice
    from support.models import Alert

    clients = ClientProcesses(f"ws://127.0.0.1:{port}/ws/overlay/{key}/", count)
    latencies: list[float] = []
    try:
        for made in tips:
            invoice = made.invoice
            invoice.refresh_from_db()
            started = time.time()
            move_invoice(invoice, "processing")
            seq = Alert.objects.get(tip=made).seq
            latencies.extend(t - started for t in clients.wait_for(seq))
            time.sleep(0.2)
    finally:
        clients.close()
        connection.close()
    return latencies


def alert_text(seq: int) -> str:
    return json.dumps({"type": "alert", "seq": seq, "name": "Ada", "message": "hi"})


def run_reference(port: int, redis_url: str, samples: int, count: int) -> list[float]:
    import redis

    clients = ClientProcesses(f"ws://127.0.0.1:{port}/", count)
    publisher = redis.Redis.from_url(redis_url)
    latencies: list[float] = []
    try:
        for seq in range(1, samples + 1):
            text = alert_text(seq)
            started = time.time()
            publisher.publish(CHANNEL, text)
            latencies.extend(t - started for t in clients.wait_for(seq))
            time.sleep(0.2)
    finally:
        clients.close()
        publisher.close()
    return latencies


def run_layer(port: int, redis_url: str, samples: int, count: int) -> list[float]:
    from channels_redis.pubsub import (  # type: ignore[import-untyped, unused-ignore]
        RedisPubSubChannelLayer,
    )

    clients = ClientProcesses(f"ws://127.0.0.1:{port}/", count)
    loop = asyncio.new_event_loop()
    layer = RedisPubSubChannelLayer(hosts=[redis_url])
    latencies: list[float] = []
    try:
        for seq in range(1, samples + 1):
            message = {"type": "alert", "text": alert_text(seq)}
            started = time.time()
            loop.run_until_complete(layer.group_send("fanout", message))
            latencies.extend(t - started for t in clients.wait_for(seq))
            time.sleep(0.2)
    finally:
        clients.close()
        with suppress(Exception):
            loop.run_until_complete(layer.flush())
        loop.close()
    return latencies


@contextmanager
def stressed(data_dir: Path) -> Iterator[None]:
    """``stress-ng --cpu 2`` beside the bench (bench/common.py has no such helper yet), warmed
    up for 20 s so that the load average has risen toward it."""
    with process(["stress-ng", "--cpu", "2", "--timeout", "0"], {**os.environ}, data_dir / "s.log"):
        time.sleep(20)
        yield


def loads() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


@dataclass
class Row:
    busy: bool
    count: int
    ours: list[float]
    layer: list[float]
    relay: list[float]
    before: str
    after: str


def measure(
    counts: list[int], samples: int, redis_arg: str | None, busy_modes: tuple[bool, ...]
) -> list[Row]:
    """Every count against the three servers, idle and (``True``) beside stress-ng."""
    data_dir = Path(tempfile.mkdtemp(prefix="btt-bench-fanout-", dir="/tmp"))
    env = environment(data_dir, redis_arg)
    os.environ.update(env)
    if "REDIS_URL" not in env:
        os.environ.pop("REDIS_URL", None)
    os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "btt_platform.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from tronpy.keys import PrivateKey

    from accounts.models import User
    from btt_platform import embedded
    from creators.models import Creator
    from payments.money import Amount, Token
    from support import services

    rows: list[Row] = []
    try:
        call_command("migrate", verbosity=0)
        redis_url: str = settings.REDIS_URL
        user = User.objects.create_user(
            username="streamer", email="streamer@example.com", password=None
        )
        creator = Creator.objects.create(
            user=user,
            handle="streamer",
            display_name="Streamer",
            payout_address=PrivateKey.random().public_key.to_base58check_address(),
        )
        key = services.tip_settings(creator).overlay_key
        web_port, ref_port, layer_port = free_port(), free_port(), free_port()
        uvicorn = [PYTHON, "-m", "uvicorn", "--host", "127.0.0.1", "--lifespan", "off",
                   "--no-access-log", "--log-level", "warning",
                   "--ws-per-message-deflate", "false"]  # fmt: skip
        web = [*uvicorn, "btt_site.asgi:application", "--port", str(web_port)]
        layer = [*uvicorn, "bench.fanout_layer:application", "--port", str(layer_port)]
        reference = [PYTHON, __file__, "--serve-reference", str(ref_port), redis_url]
        with (
            process(web, env, data_dir / "web.log"),
            process(reference, env, data_dir / "reference.log"),
            process(layer, {**env, "BENCH_LAYER_REDIS": redis_url}, data_dir / "layer.log"),
        ):
            wait_port(web_port)
            wait_port(ref_port)
            wait_port(layer_port)
            amount = 100
            for busy in busy_modes:
                with ExitStack() as stack:
                    before = loads()
                    if busy:
                        stack.enter_context(stressed(data_dir))
                    for count in counts:
                        tips = []
                        for _ in range(samples):
                            amount += 1
                            # A fan of their own per tip: a payer may hold only a few unpaid
                            # tips (support.services.MAX_OPEN_TIPS_PER_PAYER), and these are
                            # moved to processing without a payment.
                            fan = User.objects.create_user(
                                username=f"fan{amount}", email=f"fan{amount}@example.com",
                                password=None,
                            )  # fmt: skip
                            tips.append(
                                services.create_tip(
                                    fan, creator, Amount.parse(f"{amount}", Token.BTT)
                                )
                            )
                        connection.close()
                        ours = run_ours(web_port, key, tips, count)
                        via_layer = run_layer(layer_port, redis_url, samples, count)
                        relay = run_reference(ref_port, redis_url, samples, count)
                        rows.append(Row(busy, count, ours, via_layer, relay, before, loads()))
                        print(row_text(rows[-1]), file=sys.stderr, flush=True)
    finally:
        connection.close()
        if not redis_arg:
            with suppress(Exception):
                embedded.stop(data_dir)
        with suppress(OSError):
            import shutil

            shutil.rmtree(data_dir)
    return rows


def row_text(row: Row) -> str:
    o50, o99 = (percentile(row.ours, f) * 1000 for f in (0.5, 0.99))
    l50, l99 = (percentile(row.layer, f) * 1000 for f in (0.5, 0.99))
    r50, r99 = (percentile(row.relay, f) * 1000 for f in (0.5, 0.99))
    return (
        f"| {'stress-ng --cpu 2' if row.busy else 'idle'} | {row.count} | {row.before} |"
        f" {row.after} | {o50:.0f} / {o99:.0f} | {l50:.0f} / {l99:.0f} |"
        f" {r50:.0f} / {r99:.0f} | {o99 / r99:.2f} | {o99 / l99:.2f} |"
    )


GOAL_P99_MS = 250.0
GOAL_RATIO = 1.2


def section(counts: tuple[int, ...] = (1000, 5000), samples: int = 10) -> str:
    """Runs the bench idle and beside ``stress-ng --cpu 2``; its RESULTS.md section."""
    rows = measure(list(counts), samples, None, (False, True))
    lines = [
        "## Tip alert fan-out",
        "",
        f"`.venv/bin/python bench/tip_fanout.py` (`section()`: {', '.join(map(str, counts))}"
        f" overlays, {samples} alerts each, idle, then beside `stress-ng --cpu 2`).",
        "",
        "Three servers side by side, driven in turn with the same clients: **ours**, the web"
        " process (uvicorn, the real ASGI app, production settings) with N sockets on one"
        " creator's `/ws/overlay/<key>/`, a sample being a tip invoice moved `new ->"
        " processing` (`payments.invoices.move_invoice`, the alert raised in its transaction and"
        " published after commit, relayed by the web process's broadcast hub), timed from just"
        " before that call; **layer**, Channels' own Redis pub/sub layer"
        " (`channels_redis.pubsub.RedisPubSubChannelLayer`, uvicorn, a minimal consumer in a"
        " group, `bench/fanout_layer.py`), timed from just before `group_send`; **relay**, a"
        " bare relay (`websockets` server, one Redis subscription, `websockets.broadcast`),"
        " timed from just before the PUBLISH. Clients: the `websockets` sans-I/O protocol on"
        " bare asyncio connections in two processes of their own (not the bench's, not the"
        " server's). Percentiles over every receipt of every sample; embedded redis-server.",
        "",
        f"Machine: {os.cpu_count()} CPUs, Python {platform.python_version()}; other engineers'"
        " work shared it (load averages 1/5/15 min before and after each row).",
        "",
        "| run | N | load before | load after | ours p50 / p99 ms | layer p50 / p99 ms"
        " | relay p50 / p99 ms | ours/relay p99 | ours/layer p99 | goal p99 < 250 ms, <= 1.2x"
        " relay |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    met = True
    for row in rows:
        o50, o99 = (percentile(row.ours, f) * 1000 for f in (0.5, 0.99))
        l50, l99 = (percentile(row.layer, f) * 1000 for f in (0.5, 0.99))
        r50, r99 = (percentile(row.relay, f) * 1000 for f in (0.5, 0.99))
        ok = o99 < GOAL_P99_MS and o99 <= GOAL_RATIO * r99
        if row.count == max(counts):
            met = met and ok
        lines.append(
            f"| {'stress-ng --cpu 2' if row.busy else 'idle'} | {row.count} | {row.before} |"
            f" {row.after} | {o50:.0f} / {o99:.0f} | {l50:.0f} / {l99:.0f} |"
            f" {r50:.0f} / {r99:.0f} | {o99 / r99:.2f} | {o99 / l99:.2f} |"
            f" {'met' if ok else 'missed'} |"
        )
    lines += ["", "Goal met." if met else "Goal missed: see the notes below."]
    return "\n".join(lines) + "\n"


# --- main -----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--redis", help="a Redis URL (default: the embedded one)")
    parser.add_argument("--busy", action="store_true", help="beside stress-ng --cpu 2 only")
    parser.add_argument("--serve-reference", nargs=2, metavar=("PORT", "REDIS_URL"))
    args = parser.parse_args()
    if args.serve_reference:
        asyncio.run(serve_reference(int(args.serve_reference[0]), args.serve_reference[1]))
        return
    if len(sys.argv) == 1:
        print(section())
        return
    rows = measure(args.subscribers, args.samples, args.redis, (args.busy,))
    for row in rows:
        o50, o99 = (percentile(row.ours, f) * 1000 for f in (0.5, 0.99))
        l50, l99 = (percentile(row.layer, f) * 1000 for f in (0.5, 0.99))
        r50, r99 = (percentile(row.relay, f) * 1000 for f in (0.5, 0.99))
        print(
            f"| {row.count} | load {row.before} -> {row.after} | ours {o50:.0f}/{o99:.0f} |"
            f" layer {l50:.0f}/{l99:.0f} | relay {r50:.0f}/{r99:.0f} |"
        )


if __name__ == "__main__":
    main()
