"""The tip fan-out bench's clients: N WebSocket clients noting when each alert reached each of
them, run in processes of their own (``bench/fanout_clients.py URL COUNT``, started by
``ClientProcesses``) so that the server being measured shares neither a process nor a GIL with
them or with the bench, and all three servers carry the same client cost."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
CONNECT_BATCH = 200
WAIT_SECONDS = 120


class _Client(asyncio.Protocol):
    """One WebSocket client: the ``websockets`` library's sans-I/O protocol on a bare asyncio
    connection, noting the time each alert's bytes arrived. No task per connection, so the
    clients' own cost (which both columns carry) stays small next to what is measured."""

    def __init__(self, url: str, received: dict[int, list[float]], greeted: list[float]) -> None:
        from websockets.client import ClientProtocol
        from websockets.typing import Origin
        from websockets.uri import parse_uri

        self.protocol = ClientProtocol(parse_uri(url), origin=Origin("http://127.0.0.1"))
        self.received = received
        self.greeted = greeted
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
                else:
                    self.greeted[0] = now
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
        # When the last message that was not an alert (a server's hello on connect) came.
        self.greeted = [time.time()]

    async def open(self, url: str, count: int) -> None:
        from websockets.uri import parse_uri

        uri = parse_uri(url)
        loop = asyncio.get_running_loop()

        async def one() -> _Client:
            _, client = await loop.create_connection(
                lambda: _Client(url, self.received, self.greeted), uri.host, uri.port
            )
            await asyncio.wait_for(client.opened, 120)
            return client

        for start in range(0, count, CONNECT_BATCH):
            batch = await asyncio.gather(*(one() for _ in range(min(CONNECT_BATCH, count - start))))
            self.clients.extend(batch)

    async def settle(self) -> None:
        """Until a second has passed without a message other than an alert: a server that
        greets each socket on connect (ours reads the database for each hello) has greeted them
        all, so no sample is taken while it still works through the connects."""
        while True:
            quiet = time.time() - self.greeted[0]
            if quiet >= 1:
                return
            await asyncio.sleep(1 - quiet)

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


async def serve_clients(url: str, count: int) -> None:
    """A client process (``bench/fanout_clients.py URL COUNT``): opens ``count`` sockets, says
    ``ready``, then for each ``wait <seq>`` line on stdin answers with the JSON list of the times
    the alert reached each socket; ends at end of input."""
    clients = Clients()
    await clients.open(url, count)
    await clients.settle()
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        seq = int(line.split()[1])
        print(json.dumps(await clients.wait_for(seq, count)), flush=True)
    await clients.close()


class ClientProcesses:
    """``count`` WebSocket clients spread over ``processes`` processes of their own, so the
    server being measured does not share a process (nor a GIL) with them or with the bench."""

    def __init__(self, url: str, count: int, processes: int = 2) -> None:
        shares = [count // processes + (n < count % processes) for n in range(processes)]
        self.children = [
            subprocess.Popen(
                [PYTHON, __file__, url, str(share)],
                cwd=BASE_DIR,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for share in shares
            if share
        ]
        for child in self.children:
            assert child.stdout is not None
            if child.stdout.readline().strip() != "ready":
                raise RuntimeError("a client process did not open its sockets")

    def wait_for(self, seq: int) -> list[float]:
        for child in self.children:
            assert child.stdin is not None
            child.stdin.write(f"wait {seq}\n")
            child.stdin.flush()
        times: list[float] = []
        for child in self.children:
            assert child.stdout is not None
            times.extend(json.loads(child.stdout.readline()))
        return times

    def close(self) -> None:
        for child in self.children:
            assert child.stdin is not None
            child.stdin.close()
        for child in self.children:
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


if __name__ == "__main__":
    asyncio.run(serve_clients(sys.argv[1], int(sys.argv[2])))
