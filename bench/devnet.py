"""A devnet (``manage.py tron_devnet``) as a bench runs it: a child process on a free port, and
its HTTP API over one keep-alive connection, with the devnet's own mine and faucet calls."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.common import PYTHON, free_port, running, wait_until

BTT_CONTRACT = "TAFjULxiVgT4qWk6UZwjqwZXTSaGaqnVp4"


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

    def block_time(self, txid: str) -> float:
        """When the block holding ``txid`` was made (the devnet stamps a block with the wall
        clock as it makes it), once it is in one."""
        info: dict[str, Any] = {}

        def included() -> bool:
            info.update(self.post("wallet/gettransactioninfobyid", value=txid))
            return "blockTimeStamp" in info

        wait_until(included, 30, f"{txid} in a block")
        stamp: int = info["blockTimeStamp"]
        return stamp / 1000


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
    with running(args, data_dir / f"{name}.log", env=env) as child:
        node = Node(f"http://127.0.0.1:{port}")
        wait_until(lambda: child.poll() is None and node.answers(), 60, f"the {name} devnet")
        yield node


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
