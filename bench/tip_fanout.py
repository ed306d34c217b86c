"""Tip alert fan-out: from a tip invoice's state change to the alert on N overlay sockets, next
to a bare Redis pub/sub relay doing the same fan-out, in one run.

    .venv/bin/python bench/tip_fanout.py [--subscribers 100 1000 5000] [--samples 20]
                                         [--redis redis://HOST:PORT/DB]

Sets up a scratch data folder in /tmp (embedded SQLite, migrated; the embedded Redis, a real
redis-server, unless ``--redis`` names one), a creator with tip settings and a tip invoice per
sample. For each subscriber count, in turn:

  ours       the web process (uvicorn, the real ASGI app, production settings) and N WebSocket
             clients on the creator's ``/ws/overlay/<key>/``. A sample: this process moves a
             tip's invoice ``new -> processing`` (``payments.services.move_invoice``, which
             raises the alert in its transaction and publishes it after commit; the web
             process's broadcast hub relays it to every local overlay socket); the time from
             just before that call to each client's receipt of the alert.
  reference  a bare relay process (``--serve-reference``: the ``websockets`` library's server,
             one Redis pub/sub subscription, ``websockets.broadcast`` of each message to every
             connection) and N clients on it; the time from just before a PUBLISH to each
             client's receipt. The least any design relaying through Redis to sockets pays.

Clients live in this process (the ``websockets`` sans-I/O protocol on bare asyncio
connections, no compression, no pings), so both columns carry the same client-side cost.
Prints p50 and p99 of every receipt of every sample, and ours/reference.
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
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
CHANNEL = "bench-fanout"
CONNECT_BATCH = 200
WAIT_SECONDS = 120


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def environment(data_dir: Path, redis_url: str | None) -> dict[str, str]:
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


# --- clients --------------------------------------------------------------------------------


class _Client(asyncio.Protocol):
    """One WebSocket client: the ``websockets`` library's sans-I/O protocol on a bare asyncio
    connection, noting the time each alert's bytes arrived. No task per connection, so the
    clients' own cost (which both columns carry) stays small next to what is measured."""

    def __init__(self, url: str, received: dict[int, list[float]]) -> None:
        from websockets.client import ClientProtocol
        from websockets.typing import Origin
        from websockets.uri import parse_uri

        self.protocol = ClientProtocol(parse_uri(url), origin=Origin("http://127.0.0.1"))
        self.received = received
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.protocol.send_request(self.protocol.connect())
        self._flush()

    def data_received(self, data: bytes) -> None:
        from websockets.frames import Frame, Opcode
        from websockets.http11 import Response

        now = time.time()
        self.protocol.receive_data(data)
        for event in self.protocol.events_received():
            if isinstance(event, Response) and not self.opened.done():
                if self.protocol.handshake_exc is not None:
                    self.opened.set_exception(self.protocol.handshake_exc)
                else:
                    self.opened.set_result(None)
            elif isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                message = json.loads(bytes(event.data))
                if message.get("type") == "alert":
                    self.received.setdefault(message["seq"], []).append(now)
        self._flush()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(exc or ConnectionError("closed during the handshake"))

    def _flush(self) -> None:
        assert self.transport is not None
        for data in self.protocol.data_to_send():
            if data:
                self.transport.write(data)


class Clients:
    """N WebSocket clients noting when each alert (by seq) reached each of them."""

    def __init__(self) -> None:
        self.received: dict[int, list[float]] = {}
        self.clients: list[_Client] = []

    async def open(self, url: str, count: int) -> None:
        from websockets.uri import parse_uri

        uri = parse_uri(url)
        loop = asyncio.get_running_loop()

        async def one() -> _Client:
            _, client = await loop.create_connection(
                lambda: _Client(url, self.received), uri.host, uri.port
            )
            await asyncio.wait_for(client.opened, 120)
            return client

        for start in range(0, count, CONNECT_BATCH):
            batch = await asyncio.gather(*(one() for _ in range(min(CONNECT_BATCH, count - start))))
            self.clients.extend(batch)

    async def wait_for(self, seq: int, count: int) -> list[float]:
        deadline = time.monotonic() + WAIT_SECONDS
        while len(self.received.get(seq, [])) < count:
            if time.monotonic() > deadline:
                got = len(self.received.get(seq, []))
                raise RuntimeError(f"alert {seq} reached {got} of {count} clients")
            await asyncio.sleep(0.005)
        return self.received[seq]

    async def close(self) -> None:
        for client in self.clients:
            if client.transport is not None:
                client.transport.close()
        await asyncio.sleep(0.5)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


async def run_ours(port: int, key: str, tips: list[Any], count: int) -> list[float]:
    from payments.services import move_invoice

    clients = Clients()
    await clients.open(f"ws://127.0.0.1:{port}/ws/overlay/{key}/", count)
    await asyncio.sleep(1)  # every hello read
    latencies: list[float] = []
    loop = asyncio.get_running_loop()

    def trigger(made: Any) -> tuple[float, int]:
        from django.db import connection

        from support.models import Alert

        invoice = made.invoice
        invoice.refresh_from_db()
        started = time.time()
        move_invoice(invoice, "processing")
        seq = Alert.objects.get(tip=made).seq
        connection.close()
        return started, seq

    try:
        for made in tips:
            started, seq = await loop.run_in_executor(None, trigger, made)
            latencies.extend(t - started for t in await clients.wait_for(seq, count))
            await asyncio.sleep(0.2)
    finally:
        await clients.close()
    return latencies


async def run_reference(port: int, redis_url: str, samples: int, count: int) -> list[float]:
    import redis.asyncio as redis

    clients = Clients()
    await clients.open(f"ws://127.0.0.1:{port}/", count)
    await asyncio.sleep(1)
    publisher = redis.from_url(redis_url)
    latencies: list[float] = []
    try:
        for seq in range(1, samples + 1):
            payload = json.dumps({"type": "alert", "seq": seq, "name": "Ada", "message": "hi"})
            started = time.time()
            await publisher.publish(CHANNEL, payload)
            latencies.extend(t - started for t in await clients.wait_for(seq, count))
            await asyncio.sleep(0.2)
    finally:
        await clients.close()
        await publisher.aclose()
    return latencies


# --- main -----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, nargs="+", default=[100, 1000, 5000])
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--redis", help="a Redis URL (default: the embedded one)")
    parser.add_argument("--serve-reference", nargs=2, metavar=("PORT", "REDIS_URL"))
    args = parser.parse_args()
    if args.serve_reference:
        asyncio.run(serve_reference(int(args.serve_reference[0]), args.serve_reference[1]))
        return

    data_dir = Path(tempfile.mkdtemp(prefix="btt-bench-fanout-", dir="/tmp"))
    env = environment(data_dir, args.redis)
    os.environ.update(env)
    if "REDIS_URL" not in env:
        os.environ.pop("REDIS_URL", None)
    os.environ.pop("DATABASE_URL", None)
    sys.path.insert(0, str(BASE_DIR))
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
        fan = User.objects.create_user(username="fan", email="fan@example.com", password=None)
        key = services.tip_settings(creator).overlay_key
        services.MAX_OPEN_TIPS_PER_PAYER = 10**6
        load = os.getloadavg()[0]
        print(
            f"tip fan-out bench: {args.samples} alerts per run, subscribers "
            f"{args.subscribers}, SQLite, redis {'given' if args.redis else 'embedded'}, "
            f"Python {platform.python_version()}, {os.cpu_count()} CPUs, load {load:.1f}"
        )
        web_port, ref_port = free_port(), free_port()
        web = [PYTHON, "-m", "uvicorn", "btt_platform.asgi:application", "--host", "127.0.0.1",
               "--port", str(web_port), "--lifespan", "off", "--no-access-log",
               "--log-level", "warning", "--ws-per-message-deflate", "false"]  # fmt: skip
        reference = [PYTHON, __file__, "--serve-reference", str(ref_port), redis_url]
        with (
            process(web, env, data_dir / "web.log"),
            process(reference, env, data_dir / "reference.log"),
        ):
            wait_port(web_port)
            wait_port(ref_port)
            print("| subscribers | ours p50 ms | ours p99 ms | reference p50 ms | reference p99 ms "
                  "| p50 ratio | p99 ratio |")  # fmt: skip
            print("|---|---|---|---|---|---|---|")
            for count in args.subscribers:
                tips = [
                    services.create_tip(fan, creator, Amount.parse(f"{100 + n}", Token.BTT))
                    for n in range(args.samples)
                ]
                connection.close()
                ours = asyncio.run(run_ours(web_port, key, tips, count))
                ref = asyncio.run(run_reference(ref_port, redis_url, args.samples, count))
                o50, o99 = percentile(ours, 0.5) * 1000, percentile(ours, 0.99) * 1000
                r50, r99 = percentile(ref, 0.5) * 1000, percentile(ref, 0.99) * 1000
                print(
                    f"| {count} | {o50:.1f} | {o99:.1f} | {r50:.1f} | {r99:.1f} | "
                    f"{o50 / r50:.1f} | {o99 / r99:.1f} |",
                    flush=True,
                )
    finally:
        connection.close()
        if not args.redis:
            with suppress(Exception):
                embedded.stop(data_dir)
        with suppress(OSError):
            import shutil

            shutil.rmtree(data_dir)


if __name__ == "__main__":
    main()
