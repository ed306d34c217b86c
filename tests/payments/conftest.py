"""The TRON devnet as a real process (``manage.py tron_devnet``) and unmodified tronpy clients."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from tronpy import Tron
from tronpy.keys import PrivateKey
from tronpy.providers import HTTPProvider

from tests.conftest import Child, free_port, process_environment, start_child, wait_for

BTT_TRC10 = "1002000"
BTT_TRC20 = "TAFjULxiVgT4qWk6UZwjqwZXTSaGaqnVp4"
TRX = "TRX"

# Blocks every second keep waits short; a window of 40 blocks lets a test make a reference
# block stale by mining, where java-tron's 65,536 would take a day of blocks.
DEVNET_ENV = {
    "TRON_DEVNET_BLOCK_SECONDS": "1",
    "TRON_DEVNET_SOLIDIFY_BLOCKS": "19",
    "TRON_DEVNET_TAPOS_BLOCKS": "40",
}


@dataclass
class Devnet:
    url: str
    state: Path
    child: Child

    def post(self, path: str, **payload: Any) -> Any:
        response = httpx.post(f"{self.url}/{path}", json=payload, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()

    def get(self, path: str, **params: Any) -> Any:
        response = httpx.get(f"{self.url}/{path}", params=params, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()

    def faucet(self, address: str, token: str, amount: int) -> str:
        answer = self.post("devnet/faucet", address=address, token=token, amount=str(amount))
        assert answer.get("result") is True, answer
        txid: str = answer["txid"]
        return txid

    def mine(self, blocks: int = 1) -> dict[str, Any]:
        answer: dict[str, Any] = self.post("devnet/mine", blocks=blocks)
        return answer

    def head(self) -> int:
        number: int = self.post("wallet/getnowblock")["block_header"]["raw_data"]["number"]
        return number

    def tron(self) -> Tron:
        return Tron(HTTPProvider(endpoint_uri=self.url))

    def stop(self, sig: int = signal.SIGTERM) -> int:
        return self.child.stop(sig)


def launch_devnet(tmp_path: Path, state: Path, **env: str) -> Devnet:
    port = free_port()
    child = start_child(
        f"devnet-{port}",
        [sys.executable, "manage.py", "tron_devnet", "--port", str(port), "--state", str(state)],
        process_environment(PYTHONUNBUFFERED="1", **{**DEVNET_ENV, **env}),
        tmp_path,
    )
    devnet = Devnet(f"http://127.0.0.1:{port}", state, child)

    def answers() -> bool:
        assert child.process.poll() is None, child.output()
        try:
            return "block" in httpx.get(f"{devnet.url}/wallet/getnodeinfo", timeout=2).json()
        except httpx.TransportError:
            return False

    try:
        wait_for(answers, timeout=60, what="the devnet to answer")
    except BaseException:
        child.stop()
        raise
    return devnet


@pytest.fixture(scope="module")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    """One devnet per test module; tests use fresh keys, so they do not see each other."""
    tmp_path = tmp_path_factory.mktemp("devnet")
    node = launch_devnet(tmp_path, tmp_path / "chain.sqlite3")
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture
def devnet_factory(tmp_path: Path) -> Iterator[Callable[..., Devnet]]:
    """Starts devnets on a state file of the test's; the same file again is a restart."""
    started: list[Devnet] = []

    def factory(state: Path | None = None, **env: str) -> Devnet:
        node = launch_devnet(tmp_path, state or tmp_path / "chain.sqlite3", **env)
        started.append(node)
        return node

    try:
        yield factory
    finally:
        for node in started:
            node.stop()


@dataclass
class Wallet:
    key: PrivateKey

    @property
    def address(self) -> str:
        address: str = self.key.public_key.to_base58check_address()
        return address


def funded_wallet(devnet: Devnet, trx: int = 0, trc10: int = 0, trc20: int = 0) -> Wallet:
    """A new key holding what the faucet sent it, once a mined block has included it."""
    wallet = Wallet(PrivateKey.random())
    for token, amount in ((TRX, trx), (BTT_TRC10, trc10), (BTT_TRC20, trc20)):
        if amount:
            devnet.faucet(wallet.address, token, amount)
    devnet.mine()
    return wallet
