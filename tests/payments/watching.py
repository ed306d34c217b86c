"""For the chain watcher's tests: paying with unmodified tronpy, the watcher as a process or a
thread, and a stand-in node in front of the devnet that can pass answers on, garble them or
change them."""

from __future__ import annotations

import itertools
import json
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from django.db import connection

from creators.models import Creator
from payments.chain.node import NodeClient
from payments.chain.watcher import Watcher
from payments.models import ChainCursor, Invoice
from tests.fixtures.devnet import BTT_TRC10, BTT_TRC20, Devnet, Wallet, new_address
from tests.fixtures.processes import Child, process_environment, start_child, wait_for
from tests.payments.factories import with_wallet

FEE_LIMIT = 30_000_000


def creator_with_own_wallet(creator: Creator) -> Creator:
    return with_wallet(creator, new_address())


# --- paying -----------------------------------------------------------------------------------


def signed_btt(devnet: Devnet, payer: Wallet, to: str, units: int, memo: str = "") -> Any:
    """A TRC-20 BTT transfer as a wallet makes it with tronpy, signed (tronpy's Transaction)."""
    call = (
        devnet.tron()
        .get_contract(BTT_TRC20)
        .functions.transfer(to, units)
        .with_owner(payer.address)
        .fee_limit(FEE_LIMIT)
    )
    if memo:
        call = call.memo(memo)
    return call.build().sign(payer.key)


def send_btt(devnet: Devnet, payer: Wallet, to: str, units: int, memo: str = "") -> str:
    """A TRC-20 BTT transfer, signed and broadcast; its txid."""
    txid: str = signed_btt(devnet, payer, to, units, memo).broadcast().txid
    return txid


def send_trc10_btt(devnet: Devnet, payer: Wallet, to: str, units: int, memo: str = "") -> str:
    builder = devnet.tron().trx.asset_transfer(payer.address, to, units, int(BTT_TRC10))
    if memo:
        builder = builder.memo(memo)
    txid: str = builder.build().sign(payer.key).broadcast().txid
    return txid


def send_trx(devnet: Devnet, payer: Wallet, to: str, sun: int, memo: str = "") -> str:
    builder = devnet.tron().trx.transfer(payer.address, to, sun)
    if memo:
        builder = builder.memo(memo)
    txid: str = builder.build().sign(payer.key).broadcast().txid
    return txid


def block_of(devnet: Devnet, txid: str) -> int:
    """The block holding ``txid`` (waits for one to)."""
    found: dict[str, Any] = {}

    def included() -> bool:
        found.update(devnet.post("wallet/gettransactioninfobyid", value=txid))
        return "blockNumber" in found

    wait_for(included, timeout=60, what=f"{txid} in a block")
    number: int = found["blockNumber"]
    return number


# --- the watcher ------------------------------------------------------------------------------


def cursor_at(number: int, network: str = "devnet") -> bool:
    cursor = ChainCursor.objects.filter(network=network).first()
    return cursor is not None and cursor.head_block >= number


def wait_scanned(number: int, what: str = "") -> None:
    wait_for(lambda: cursor_at(number), timeout=90, what=what or f"the watcher at block {number}")


def wait_following(devnet: Devnet) -> None:
    """Until the watcher has read a block made now (the head moves on meanwhile, so waiting
    for "the" head could wait forever on a busy machine)."""
    wait_scanned(devnet.mine()["head"], "the watcher at the head")


def state_of(invoice: Invoice) -> str:
    return Invoice.objects.get(pk=invoice.pk).state


def start_watcher_process(
    tmp_path: Path, node_url: str, name: str = "watcher", *args: str, **env: str
) -> Child:
    """``manage.py watch_chain`` as its own process, on this test's database."""
    return start_child(
        f"{name}-{node_url.rsplit(':', 1)[-1]}",
        [sys.executable, "manage.py", "watch_chain", *args],
        process_environment(
            TRON_API_URL=node_url,
            TRON_WATCHER_POLL_SECONDS="0.1",
            TRON_WATCHER_BACKOFF_MAX_SECONDS="1",
            **env,
        ),
        tmp_path,
    )


@dataclass
class WatcherThread:
    """The real watcher loop on a thread of the test process (its own database connection)."""

    watcher: Watcher
    stop_event: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    @classmethod
    def start(
        cls, url: str, network: str = "devnet", from_block: int | None = None
    ) -> WatcherThread:
        watcher = Watcher(NodeClient(url), network, poll_seconds=0.05, backoff_max_seconds=1.0)
        if from_block is not None:
            watcher.start_from(from_block)
        running = cls(watcher)
        running.thread = threading.Thread(target=running._run, daemon=True)
        running.thread.start()
        return running

    def _run(self) -> None:
        try:
            self.watcher.run(self.stop_event)
        finally:
            connection.close()

    def stop(self) -> None:
        self.stop_event.set()
        if self.thread is not None:
            self.thread.join(timeout=30)
            assert not self.thread.is_alive(), "the watcher thread did not stop"


# --- a node in front of the devnet ------------------------------------------------------------

Rewrite = Callable[[str, Any], Any]


def _garbage() -> Iterator[tuple[int, bytes]]:
    """What a broken node, a proxy in front of one, or a rate limit answers, in turn."""
    block_of_another_number = json.dumps(
        {
            "blockID": "00" * 32,
            "block_header": {
                "raw_data": {"number": 10**9, "timestamp": 1, "parentHash": "00" * 32}
            },
        }
    ).encode()
    return itertools.cycle(
        [
            (200, b"<html><body>502 Bad Gateway</body></html>"),
            (200, b'{"Error": "class java.lang.NullPointerException : null"}'),
            (200, b'{"blockID": "00'),  # cut short
            (200, b"[1, 2, 3]"),
            (200, b'"a string"'),
            (200, block_of_another_number),
            (500, b"Internal Server Error"),
            (429, b'{"Error": "rate limited"}'),
            (200, b'{"block_header": {"raw_data": "not an object"}}'),
        ]
    )


GARBAGE_KINDS = 9


class NodeProxy:
    """An HTTP server standing in for the TRON node: ``mode`` "pass" hands every request to
    ``target`` (through ``rewrite``, if set, which may change the answer); "garbage" answers
    with something broken each time; "cut" closes the connection without an answer."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.mode = "pass"
        self.rewrite: Rewrite | None = None
        self.seen: Counter[str] = Counter()
        self.api_keys: Counter[str | None] = Counter()
        self.garbage_served = 0
        self._garbage = _garbage()
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                proxy.handle(self, body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def handle(self, request: BaseHTTPRequestHandler, body: bytes) -> None:
        path = request.path.strip("/")
        with self._lock:
            self.seen[path] += 1
            self.api_keys[request.headers.get("TRON-PRO-API-KEY")] += 1
            mode = self.mode
            if mode == "garbage":
                status, answer = next(self._garbage)
                self.garbage_served += 1
        if mode == "cut":
            request.close_connection = True
            request.connection.close()
            return
        if mode == "pass":
            try:
                response = httpx.post(f"{self.target}/{path}", content=body, timeout=30)
            except httpx.TransportError:
                status, answer = 502, b"Bad Gateway"
            else:
                status, answer = response.status_code, response.content
                if self.rewrite is not None and status == 200:
                    answer = json.dumps(self.rewrite(path, json.loads(answer))).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(answer)))
        request.end_headers()
        request.wfile.write(answer)
